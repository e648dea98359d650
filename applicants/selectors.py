"""Reads that the officer's pages and the API share, scoped to what the reader may see.

Loan officers see the applications they submitted; readers with the "view all" permission
(compliance) see every application; anybody else sees none. Every page and endpoint that
shows applications goes through these functions, so the rule lives in one place. The
functions that take an application expect one already fetched through them.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from applicants import four_eyes, presentation
from applicants.filters import ApplicationFilter
from applicants.models import LoanApplication
from audits.models import AuditEvent
from audits.selectors import events_for_target
from credscope_site.roles import Perm
from scoring.ml.serving.counteroffer import term_months
from scoring.models import BatchJob, Decision, DecisionOverride, Outcome
from scoring.policy import current_policy, outcome_for
from scoring.selectors import credit_history_summary_for

#: What a list row and an application's page show beside the application: read with it.
_SHOWN_WITH = (
    "applicant",
    "created_by",
    "decision",
    "decision__model_version",
    "decision__policy",
    "accepted_counteroffer",
)


def application_visible_to(*, user: AbstractBaseUser) -> QuerySet[LoanApplication]:
    """Every application `user` may read, unfiltered and unordered beyond the default."""
    if not getattr(user, "is_authenticated", False):
        return LoanApplication.objects.none()
    if user.has_perm(Perm.VIEW_ALL_APPLICATIONS):
        return LoanApplication.objects.all()
    if user.has_perm(Perm.VIEW_OWN_APPLICATIONS):
        return LoanApplication.objects.filter(created_by=user)
    return LoanApplication.objects.none()


def application_list_for(*, user: AbstractBaseUser, **filters: Any) -> QuerySet[LoanApplication]:
    """The applications `user` may read, newest first, with their decision joined, narrowed
    by `filters` (`status`, `outcome`, `date_from`, `date_to`, `search`: the parameters of
    `applicants.filters.ApplicationFilter`, which the page and the API use alike).

    Raises `ValueError` naming the filters that are not valid.
    """
    applications = application_visible_to(user=user).select_related(*_SHOWN_WITH)
    if filters:
        filterset = ApplicationFilter(data=filters, queryset=applications)
        if not filterset.is_valid():
            raise ValueError(f"invalid filters: {dict(filterset.errors)}")
        applications = filterset.qs
    return applications.order_by("-submitted_at", "-id")


def application_get_for(*, user: AbstractBaseUser, application_id: int) -> LoanApplication:
    """One application `user` may read, with its decision.

    Raises `LoanApplication.DoesNotExist` both when there is no such application and when it
    belongs to someone the reader may not see, so callers answer 404 in both cases and never
    reveal that another officer's application exists.
    """
    return application_visible_to(user=user).select_related(*_SHOWN_WITH).get(pk=application_id)


# --- one application's page, and the dashboard ------------------------------------------------

IN_PROGRESS = (LoanApplication.Status.SUBMITTED, LoanApplication.Status.SCORING)


def decision_of(application: LoanApplication) -> Decision | None:
    try:
        return application.decision
    except ObjectDoesNotExist:
        return None


def override_of(decision: Decision | None) -> DecisionOverride | None:
    if decision is None:
        return None
    try:
        return decision.override
    except ObjectDoesNotExist:
        return None


def accepted_counteroffer_of(application: LoanApplication) -> LoanApplication | None:
    """The application that accepted `application`'s counteroffer, if one did."""
    try:
        return application.accepted_counteroffer
    except ObjectDoesNotExist:
        return None


def final_outcome(decision: Decision | None) -> str | None:
    """The outcome in force: a reviewer's override if there is one, else the model's."""
    override = override_of(decision)
    if override is not None:
        return override.outcome
    return decision.outcome if decision is not None else None


def application_status(*, application: LoanApplication) -> dict[str, Any]:
    """The small JSON the application page polls while scoring runs."""
    decision = decision_of(application)
    return {
        "id": application.pk,
        "status": application.status,
        "status_label": application.get_status_display(),
        "in_progress": application.status in IN_PROGRESS,
        "outcome": decision.outcome if decision else None,
        "failure_reason": application.failure_reason or None,
    }


def application_history(*, application: LoanApplication) -> list[AuditEvent]:
    """Audit events about the application, its decision and any override, oldest first."""
    decision = decision_of(application)
    events = events_for_target(
        target_type=application._meta.label_lower, target_id=str(application.pk)
    )
    if decision is not None:
        events = events | events_for_target(
            target_type=decision._meta.label_lower, target_id=str(decision.pk)
        )
        override = override_of(decision)
        if override is not None:
            events = events | events_for_target(
                target_type=override._meta.label_lower, target_id=str(override.pk)
            )
    return list(events.order_by("sequence"))


def application_page(*, application: LoanApplication, user: AbstractBaseUser) -> dict[str, Any]:
    """Everything the application page shows, for a reader already allowed to see it."""
    decision = decision_of(application)
    override = override_of(decision)
    context: dict[str, Any] = {
        "application": application,
        "applicant": application.applicant,
        "decision": decision,
        "override": override,
        "final_outcome": final_outcome(decision),
        "in_progress": application.status in IN_PROGRESS,
        "status_url": reverse("applicants:status", args=[application.pk]),
        "key_figures": presentation.key_figures(application.application_row),
        "history_summary": credit_history_summary_for(application=application),
        "audit_events": application_history(application=application),
    }
    context.update(_review_state(decision, override, user))
    context.update(_counteroffer_state(application, decision, override, user))
    if decision is not None:
        policy = decision.policy
        context["gauge"] = presentation.pd_gauge(
            decision.probability_of_default,
            approve_below=policy.approve_below,
            reject_at_or_above=policy.reject_at_or_above,
        )
        chart = presentation.family_chart(
            decision.family_totals, base_value=decision.base_value, logit=decision.logit
        )
        context["chart"] = chart.as_json()
        context["chart_height"] = 70 + 34 * max(len(chart.values), 3)
        context["base_pd"] = 1 / (1 + math.exp(-decision.base_value))
        context["feature_details"] = presentation.feature_details(decision.contributions)
    return context


def _counteroffer_state(
    application: LoanApplication,
    decision: Decision | None,
    override: DecisionOverride | None,
    user: AbstractBaseUser,
) -> dict[str, Any]:
    """The counteroffer card: the offer (or why none), the applications linked by
    accepting, and whether `user` may accept (the submitting officer, before a reviewer
    decides and before it was accepted)."""
    accepted = accepted_counteroffer_of(application)
    shown = presentation.counteroffer_shown(decision) if decision is not None else None
    if shown is not None:
        shown["asked_term"] = term_months(application.application_row)
    return {
        "counteroffer": shown,
        "accepted_counteroffer": accepted,
        "counteroffer_of": application.counteroffer_of,
        "can_accept_counteroffer": bool(
            shown
            and shown["offer"]
            and accepted is None
            and override is None
            and application.created_by_id == user.pk
            and user.has_perm(Perm.SUBMIT_APPLICATION)
        ),
    }


def _review_state(
    decision: Decision | None, override: DecisionOverride | None, user: AbstractBaseUser
) -> dict[str, Any]:
    """Whether the page offers `user` the override form and, if not, why (four eyes)."""
    if decision is None or override is not None or not user.has_perm(Perm.OVERRIDE_DECISION):
        return {"can_override": False, "review_refusal": None}
    refusal = four_eyes.override_refusal(decision=decision, reviewer=user)
    if refusal is not None and refusal.code == "not_awaiting_review":
        return {"can_override": False, "review_refusal": None}
    return {
        "can_override": refusal is None,
        "review_refusal": refusal.message if refusal else None,
        "approve_only": decision.outcome == Outcome.REJECT,
    }


def officer_dashboard(*, user: AbstractBaseUser) -> dict[str, Any] | None:
    """Counts by status and by outcome of the applications this user may see, and the length
    of their review queue; None for a user who reads no applications."""
    if not user.has_perm(Perm.VIEW_OWN_APPLICATIONS):
        return None
    visible = application_list_for(user=user)
    by_status = dict(
        visible.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    decided = Decision.objects.filter(application__in=visible.values("pk"))
    by_outcome = decided.aggregate(
        **{outcome.value: Count("pk", filter=Q(outcome=outcome)) for outcome in Outcome}
    )
    decided_total = sum(by_outcome.values())
    return {
        "total": sum(by_status.values()),
        "in_progress": sum(by_status.get(status, 0) for status in IN_PROGRESS),
        "by_status": [
            {"value": status.value, "label": status.label, "count": by_status.get(status, 0)}
            for status in LoanApplication.Status
        ],
        "by_outcome": [
            {
                "value": outcome.value,
                "label": outcome.label,
                "count": by_outcome[outcome.value],
                "share": round(100 * by_outcome[outcome.value] / decided_total, 1)
                if decided_total
                else 0,
            }
            for outcome in Outcome
        ],
        "overridden": DecisionOverride.objects.filter(decision__in=decided).count(),
        "review_queue": (
            review_queue_for(user=user).count() if user.has_perm(Perm.OVERRIDE_DECISION) else None
        ),
    }


def review_queue_for(*, user: AbstractBaseUser) -> QuerySet[Decision]:
    """REFER decisions without an override, across officers, that `user` may review: among
    the applications they may read, none they submitted (four eyes). Oldest first: first in,
    first reviewed. Empty for a user without the review permission."""
    if not user.has_perm(Perm.OVERRIDE_DECISION):
        return Decision.objects.none()
    return (
        Decision.objects.filter(
            application__in=application_visible_to(user=user).values("pk"),
            outcome=Outcome.REFER,
            override__isnull=True,
            # An accepted counteroffer stands in its place: nothing left to review.
            application__accepted_counteroffer__isnull=True,
        )
        .exclude(application__created_by=user)
        .select_related(
            "application",
            "application__applicant",
            "application__created_by",
            "model_version",
            "policy",
        )
        .order_by("decided_at", "pk")
    )


def batch_histogram(*, batch: BatchJob) -> dict[str, Any]:
    """Counts of the batch's probabilities of default by bin, each bin coloured by the
    outcome the policy gives at its middle."""
    decisions = Decision.objects.filter(application__batch=batch)
    first = decisions.select_related("policy").first()
    policy = first.policy if first is not None else current_policy()
    histogram = presentation.pd_histogram(
        decisions.values_list("probability_of_default", flat=True),
        reject_at_or_above=policy.reject_at_or_above,
    )
    edges, width = histogram.pop("lower_edges"), histogram.pop("width")
    histogram["zones"] = [outcome_for(min(edge + width / 2, 1.0), policy) for edge in edges]
    return histogram


def application_for_outcome(*, user: AbstractBaseUser, application_id: int) -> LoanApplication:
    """The application `user` may record an outcome for (any, with the permission).

    Raises `LoanApplication.DoesNotExist` otherwise, so the caller answers 404.
    """
    # Model admins record outcomes without reading applications, hence a selector of its own.
    applications: QuerySet[LoanApplication] = LoanApplication.objects.none()
    if getattr(user, "is_authenticated", False) and user.has_perm(Perm.RECORD_OUTCOME):
        applications = LoanApplication.objects.all()
    return applications.select_related("decision").get(pk=application_id)


# --- overrides per officer (compliance) ---------------------------------------------------------


def override_report(*, user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Per officer: decisions on the applications they submitted, how many a reviewer
    overrode and in which direction, their share; and the overrides they made as reviewer.
    Every officer, for readers of the report (compliance); nothing for anyone else."""
    if not user.has_perm(Perm.VIEW_OVERRIDE_REPORT):
        return []
    rows: dict[str, dict[str, Any]] = {}

    def row(name: str) -> dict[str, Any]:
        return rows.setdefault(
            name,
            {
                "officer": name,
                "decided": 0,
                "overridden": 0,
                "refer_to_approve": 0,
                "refer_to_reject": 0,
                "reject_to_approve": 0,
                "reviewed": 0,
                "reviewed_approve": 0,
            },
        )

    decided = Decision.objects.values_list("application__created_by__username").annotate(
        n=Count("pk")
    )
    for name, count in decided:
        row(name)["decided"] = count
    directions = DecisionOverride.objects.values_list(
        "decision__application__created_by__username", "decision__outcome", "outcome"
    ).annotate(n=Count("pk"))
    for name, before, after, count in directions:
        entry = row(name)
        entry["overridden"] += count
        key = f"{before}_to_{after}".lower()
        if key in entry:
            entry[key] += count
    reviews = DecisionOverride.objects.values_list("reviewer__username", "outcome").annotate(
        n=Count("pk")
    )
    for name, outcome, count in reviews:
        entry = row(name)
        entry["reviewed"] += count
        if outcome == Outcome.APPROVE:
            entry["reviewed_approve"] += count
    for entry in rows.values():
        entry["share"] = entry["overridden"] / entry["decided"] if entry["decided"] else None
    return sorted(rows.values(), key=lambda entry: entry["officer"])
