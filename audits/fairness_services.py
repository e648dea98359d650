"""Fair-lending audits: request one, run it (the Celery task calls this), sign it off.

A completed audit holds an immutable snapshot (inputs, figures, code and model versions);
its sha256 goes into the audit trail when it is written and again when it is signed off, so
a copy of the trail proves which figures were signed. A signed audit never changes: the
services here refuse, and the database refuses too (migration 0010).
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from datetime import date, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audits import fairness_summary, selectors, trail
from audits.actions import AuditAction
from audits.models import FairnessAudit
from credscope_site import task_queue
from credscope_site.roles import Perm
from scoring import fairness as model_fairness
from scoring.ml import fairness

logger = logging.getLogger(__name__)

SNAPSHOT_FORMAT = 1
#: Bumped whenever a definition in scoring/ml/fairness.py changes what a figure means.
METHOD_VERSION = "1"
MIN_COMMENT_LENGTH = 10
RUN_TASK = "audits.tasks.run_fairness_audit"
Status = FairnessAudit.Status


class FairnessAuditInvalid(Exception):
    """The request is not valid; `errors` maps each field to its problem."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class FairnessAuditRefused(Exception):
    """The action is not allowed on this audit; the message says why, for the user."""


# --- configuration -------------------------------------------------------------------------------


#: The protected attributes and verdict limits from settings, shared with the model pages.
attribute_specs = model_fairness.attribute_specs
thresholds = model_fairness.audit_thresholds


# --- request -------------------------------------------------------------------------------------


def fairness_audit_request(
    *,
    actor: AbstractBaseUser | None,
    date_from: date,
    date_to: date,
    attributes: list[str] | None = None,
    model_version: str = "",
    policy_version: int | None = None,
    channel: str = "",
) -> FairnessAudit:
    """Save a queued audit of the period and enqueue its run after commit.

    Raises `FairnessAuditInvalid` for a reversed period or an unknown attribute, and
    `FairnessAuditRefused` for an actor without the permission (None: the scheduler).
    """
    if actor is not None and not actor.has_perm(Perm.RUN_FAIRNESS_AUDIT):
        raise FairnessAuditRefused("Your role may not run fairness audits.")
    known = list(settings.CREDSCOPE_FAIRNESS["attributes"])
    errors: dict[str, str] = {}
    if date_to < date_from:
        errors["date_to"] = "must be on or after date_from"
    if attributes is not None:
        unknown = [name for name in attributes if name not in known]
        if unknown:
            errors["attributes"] = f"unknown: {', '.join(unknown)} (known: {', '.join(known)})"
        elif not attributes:
            errors["attributes"] = "name at least one attribute, or leave it out for all"
    if errors:
        raise FairnessAuditInvalid(errors)
    with transaction.atomic():
        audit = FairnessAudit.objects.create(
            date_from=date_from,
            date_to=date_to,
            attributes=[n for n in known if attributes is None or n in attributes],
            model_version=model_version,
            policy_version=policy_version,
            channel=channel,
            requested_by=actor,
        )
        trail.record(
            action=AuditAction.FAIRNESS_AUDIT_REQUESTED,
            actor=actor,
            target=audit,
            payload={"inputs": audit_inputs(audit)},
        )
        transaction.on_commit(partial(_enqueue, audit.pk))
    return audit


def audit_inputs(audit: FairnessAudit) -> dict[str, Any]:
    return {
        "date_from": audit.date_from.isoformat(),
        "date_to": audit.date_to.isoformat(),
        "attributes": list(audit.attributes),
        "model_version": audit.model_version or None,
        "policy_version": audit.policy_version,
        "channel": audit.channel or None,
    }


def _enqueue(audit_id: int) -> None:
    """Send the run by task name: services never import tasks. An in-process run that fails
    records the failure on the audit itself."""
    try:
        task_queue.task_send(RUN_TASK, [audit_id])
    except task_queue.BROKER_ERRORS as error:
        logger.warning("broker unavailable for fairness audit %s: %s", audit_id, error)
        fairness_audit_mark_failed(
            audit_id=audit_id, reason="The task queue was unavailable; run the audit again."
        )


# --- run -----------------------------------------------------------------------------------------


def fairness_audit_run(*, audit_id: int) -> FairnessAudit | None:
    """Compute a queued audit and store its snapshot; None when another run holds it.

    A run left RUNNING by a dead worker is taken over after the task time limit.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimed = (
        FairnessAudit.objects.filter(pk=audit_id, snapshot__isnull=True, signed_off_at__isnull=True)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, started_at__lt=stale))
        .update(status=Status.RUNNING, started_at=now)
    )
    if claimed != 1:
        logger.info("fairness audit %s is not waiting to run; nothing to do", audit_id)
        return None
    audit = FairnessAudit.objects.get(pk=audit_id)
    try:
        snapshot = audit_snapshot(audit)
    except Exception as error:
        logger.exception("fairness audit %s failed", audit_id)
        fairness_audit_mark_failed(audit_id=audit_id, reason=f"{type(error).__name__}: {error}")
        raise
    digest = snapshot_sha256(snapshot)
    with transaction.atomic():
        FairnessAudit.objects.filter(pk=audit_id).update(
            status=Status.DONE,
            finished_at=timezone.now(),
            snapshot=snapshot,
            snapshot_sha256=digest,
            verdict=snapshot["figures"]["verdict"],
        )
        trail.record(
            action=AuditAction.FAIRNESS_AUDIT_COMPLETED,
            target=audit,
            payload={
                "snapshot_sha256": digest,
                "verdict": snapshot["figures"]["verdict"],
                "decisions": snapshot["figures"]["totals"]["decisions"],
            },
        )
    audit.refresh_from_db()
    return audit


def audit_snapshot(audit: FairnessAudit) -> dict[str, Any]:
    """Everything an auditor needs to see how the figures came about, as JSON."""
    frame = selectors.fairness_decision_frame(
        date_from=audit.date_from,
        date_to=audit.date_to,
        model_version=audit.model_version,
        policy_version=audit.policy_version,
        channel=audit.channel,
    )
    specs = attribute_specs(audit.attributes)
    limits = thresholds()
    figures = fairness.audit_compute(frame, specs, limits)
    figures["summary"] = fairness_summary.audit_summary(figures, limits, audit.attributes)
    snapshot = {
        "format": SNAPSHOT_FORMAT,
        "inputs": audit_inputs(audit),
        "settings": {
            "min_count": limits.min_count,
            "ratio": limits.ratio,
            "alpha": limits.alpha,
            "exact_test_below": limits.exact_test_below,
            "attributes": {
                s.name: {"source": s.source, "bands": list(s.bands), "reference": s.reference}
                for s in specs
            },
        },
        "figures": figures,
        "code_version": code_version(),
        "method_version": METHOD_VERSION,
        "model_versions": sorted(frame["model_version"].dropna().unique().tolist()),
        "policy_versions": sorted(int(v) for v in frame["policy_version"].dropna().unique()),
        "computed_at": timezone.now().isoformat(),
    }
    # What the JSON column gives back, so the hash of the stored snapshot is the same.
    return json.loads(json.dumps(snapshot, cls=DjangoJSONEncoder, allow_nan=False))


def snapshot_sha256(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def snapshot_intact(audit: FairnessAudit) -> bool:
    return audit.snapshot is not None and snapshot_sha256(audit.snapshot) == audit.snapshot_sha256


def code_version() -> str:
    """The deployed commit: CREDSCOPE_CODE_VERSION, else git's HEAD, else "unknown"."""
    configured = getattr(settings, "CREDSCOPE_CODE_VERSION", "")
    if configured:
        return configured
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH, where present
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def fairness_audit_mark_failed(*, audit_id: int, reason: str) -> bool:
    with transaction.atomic():
        changed = FairnessAudit.objects.filter(
            pk=audit_id, status__in=[Status.QUEUED, Status.RUNNING], snapshot__isnull=True
        ).update(status=Status.FAILED, finished_at=timezone.now(), failure_reason=reason[:2000])
        if changed:
            trail.record(
                action=AuditAction.FAIRNESS_AUDIT_FAILED,
                target_type=FairnessAudit._meta.label_lower,
                target_id=audit_id,
                payload={"reason": reason[:2000]},
            )
    return bool(changed)


def fairness_audit_monthly(*, today: date) -> FairnessAudit | None:
    """Request and run the audit of the calendar month before `today` (celery beat)."""
    last = today.replace(day=1) - timedelta(days=1)
    audit = fairness_audit_request(actor=None, date_from=last.replace(day=1), date_to=last)
    return fairness_audit_run(audit_id=audit.pk)


# --- sign-off ------------------------------------------------------------------------------------


def fairness_audit_sign_off(
    *, audit: FairnessAudit, actor: AbstractBaseUser, comment: str
) -> FairnessAudit:
    """Record `actor`'s sign-off of a completed audit, with their comment.

    Refuses (`FairnessAuditRefused`) a user without the permission, a short comment, an audit
    not completed, one already signed (a signed audit never changes: run a new one) and one
    whose snapshot no longer matches its recorded hash.
    """
    if not actor.has_perm(Perm.SIGN_OFF_FAIRNESS_AUDIT):
        raise FairnessAuditRefused("Your role may not sign off fairness audits.")
    comment = (comment or "").strip()
    if len(comment) < MIN_COMMENT_LENGTH:
        raise FairnessAuditRefused(
            f"Write a comment of at least {MIN_COMMENT_LENGTH} characters: it goes on the "
            "record with your sign-off."
        )
    with transaction.atomic():
        current = FairnessAudit.objects.select_for_update().get(pk=audit.pk)
        ensure_changeable(current)
        if current.status != Status.DONE:
            raise FairnessAuditRefused("Only a completed audit can be signed off.")
        if not snapshot_intact(current):
            raise FairnessAuditRefused(
                "This audit's figures no longer match their recorded hash; it cannot be signed."
            )
        current.signed_off_by = actor
        current.signed_off_at = timezone.now()
        current.sign_off_comment = comment
        current.save(update_fields=["signed_off_by", "signed_off_at", "sign_off_comment"])
        trail.record(
            action=AuditAction.FAIRNESS_AUDIT_SIGNED_OFF,
            actor=actor,
            target=current,
            payload={
                "snapshot_sha256": current.snapshot_sha256,
                "verdict": current.verdict,
                "comment": comment,
            },
        )
    return current


def ensure_changeable(audit: FairnessAudit) -> None:
    """Refuse any change to a signed audit."""
    if audit.is_signed:
        raise FairnessAuditRefused(
            f"This audit was signed off on {audit.signed_off_at:%Y-%m-%d} and cannot be "
            "changed; run a new audit instead."
        )
