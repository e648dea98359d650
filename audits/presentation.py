"""How an audit event reads to an investigator: a label for its action, a link for its target,
and the payload's facts in words. Pages and the CSV export share it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse

from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import ModelVersion

_LABELS = dict(AuditAction.choices)


@dataclass(frozen=True)
class Target:
    label: str
    url: str = ""


@dataclass(frozen=True)
class EventView:
    event: AuditEvent
    action_label: str
    target: Target | None
    facts: list[tuple[str, str]] = field(default_factory=list)
    payload_json: str = ""

    @property
    def summary(self) -> str:
        """The closed <details>' line: the first fact that says something."""
        for label, value in self.facts:
            if value != "—":
                return f"{label}: {value}"
        return "Payload" if self.event.payload else "No payload"


def action_label(action: str) -> str:
    """'application.decided' -> 'Application decided'; an unknown code stays as it is."""
    return _LABELS.get(action, action)


def event_views(events: Sequence[AuditEvent]) -> list[EventView]:
    """The page's rows. Model versions are looked up once for the whole page."""
    versions = _model_versions(e.target_id for e in events if e.target_type == _MODEL)
    return [
        EventView(
            event=event,
            action_label=action_label(event.action),
            target=target_of(event, versions),
            facts=payload_facts(event.payload),
            payload_json=json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False),
        )
        for event in events
    ]


_MODEL = "scoring.modelversion"


def _model_versions(ids: Iterable[str]) -> dict[str, str]:
    wanted = {i for i in ids if i.isdigit()}
    if not wanted:
        return {}
    return {
        str(pk): version
        for pk, version in ModelVersion.objects.filter(pk__in=wanted).values_list("pk", "version")
    }


def target_of(event: AuditEvent, versions: dict[str, str] | None = None) -> Target | None:
    kind, pk = event.target_type, event.target_id
    if not kind:
        return None
    if kind == "applicants.loanapplication":
        return Target(f"Application #{pk}", _url("applicants:detail", pk))
    if kind == "scoring.batchjob":
        return Target(f"Batch #{pk}", _url("applicants:batch_detail", pk))
    if kind == _MODEL:
        version = (versions or {}).get(pk) or event.payload.get("version")
        return (
            Target(f"Model {version}", _url("models:detail", version))
            if version
            else (Target(f"Model #{pk}"))
        )
    if kind == "scoring.decisionpolicy":
        return Target(f"Decision policy #{pk}")
    if kind == "auth.user":
        return Target(f"User {event.payload.get('username') or event.actor_name}")
    if kind == "audits.chainverificationrun":
        return Target(f"Chain verification #{pk}")
    return Target(f"{kind} #{pk}" if pk else kind)


def _url(name: str, arg: str) -> str:
    try:
        return reverse(name, args=[int(arg) if arg.isdigit() else arg])
    except NoReverseMatch:
        return ""


def payload_facts(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts an investigator looks for first, in words; the full payload is shown too."""
    after = payload.get("after") if isinstance(payload.get("after"), dict) else {}
    facts: list[tuple[str, str]] = []
    outcome = after.get("outcome") or payload.get("outcome")
    if outcome:
        facts.append(("Outcome", str(outcome)))
    pd = after.get("probability_of_default", payload.get("probability_of_default"))
    if isinstance(pd, int | float):
        facts.append(("Probability of default", f"{pd:.1%}"))
    if after.get("risk_band"):
        facts.append(("Risk band", str(after["risk_band"])))
    if payload.get("reasons"):
        facts.append(("Reasons", ", ".join(str(r) for r in payload["reasons"])))
    if payload.get("justification"):
        facts.append(("Justification", str(payload["justification"])))
    if "before" in payload or "after" in payload:
        facts.append(("Before", _brief(payload.get("before"))))
        facts.append(("After", _brief(payload.get("after"))))
    if "count" in payload and "total_in_window" in payload:
        facts.append(
            ("Attempts", f"{payload['count']} (window total {payload['total_in_window']})")
        )
        if payload.get("address"):
            facts.append(("From address", str(payload["address"])))
    if payload.get("verdict"):
        facts.append(("Verdict", str(payload["verdict"])))
    return facts


def _brief(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return str(value)
