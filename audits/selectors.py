"""Reads of the audit trail that pages and the API share."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F, QuerySet
from django.db.models.fields.json import KeyTextTransform

from audits.models import AuditEvent, ChainVerificationRun, FairnessAudit
from credscope_site.roles import Perm
from scoring.models import Decision, DecisionPolicy, ModelVersion


def audit_event_list(*, user: AbstractBaseUser) -> QuerySet[AuditEvent]:
    """Events the user may read (all of them, for readers of the trail), newest first.

    Filters are applied on top by `audits.filters.AuditEventFilter`.
    """
    if not user.has_perm(Perm.VIEW_AUDIT_TRAIL):
        return AuditEvent.objects.none()
    return AuditEvent.objects.order_by("-sequence")


def events_for_target(*, target_type: str, target_id: str) -> QuerySet[AuditEvent]:
    """One object's history, oldest first (callers check the reader may see the object)."""
    return AuditEvent.objects.filter(target_type=target_type, target_id=str(target_id)).order_by(
        "sequence"
    )


# --- fair-lending audits -------------------------------------------------------------------------

#: The decision frame's columns, in the order `fairness_decision_frame` reads them.
DECISION_FRAME_COLUMNS = (
    "decision_id",
    "pd",
    "model_outcome",
    "override",
    "code_gender",
    "days_birth",
    "family_status",
    "loan_outcome",
    "model_version",
    "policy_version",
)


def fairness_decision_frame(
    *,
    date_from: date,
    date_to: date,
    model_version: str = "",
    policy_version: int | None = None,
    channel: str = "",
) -> pd.DataFrame:
    """Every decision made from `date_from` to `date_to` (inclusive, UTC) as the frame
    `scoring.ml.fairness` reads: one bulk `values_list` read, no model objects.

    Read for speed (an audit covers 100,000 decisions and more): no timestamps (parsing two
    per row was most of the read), and the version ids rather than joins to their tables.
    The days between submission and decision, which age an applicant, come from a second
    read of the few decisions made a day or more after their application."""
    start = datetime.combine(date_from, time.min, tzinfo=UTC)
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
    decisions = Decision.objects.filter(decided_at__gte=start, decided_at__lt=end)
    if model_version:
        decisions = decisions.filter(model_version__version=model_version)
    if policy_version is not None:
        decisions = decisions.filter(policy__version=policy_version)
    if channel:
        decisions = decisions.filter(application__channel=channel)
    rows = (
        decisions.order_by()
        .annotate(
            family_status=KeyTextTransform("NAME_FAMILY_STATUS", "application__application_row")
        )
        .values_list(
            "pk",
            "probability_of_default",
            "outcome",
            "override__outcome",
            "application__applicant__code_gender",
            "application__applicant__days_birth",
            "family_status",
            "application__recorded_outcome__outcome",
            "model_version_id",
            "policy_id",
        )
    )
    late = (
        decisions.order_by()
        .filter(decided_at__gte=F("application__submitted_at") + timedelta(days=1))
        .values_list("pk", "decided_at", "application__submitted_at")
    )
    waited = {pk: (decided - submitted).days for pk, decided, submitted in late}
    frame = decision_frame_from_rows(list(rows), waited_days=waited)
    frame["model_version"] = frame["model_version"].map(
        dict(ModelVersion.objects.values_list("pk", "version"))
    )
    frame["policy_version"] = frame["policy_version"].map(
        dict(DecisionPolicy.objects.values_list("pk", "version"))
    )
    return frame


def decision_frame_from_rows(
    rows: list[tuple], *, waited_days: dict[int, int] | None = None
) -> pd.DataFrame:
    """The frame from rows in `DECISION_FRAME_COLUMNS` order, with the derived columns;
    `waited_days` maps a decision id to the whole days from its application (default 0)."""
    frame = pd.DataFrame.from_records(rows, columns=list(DECISION_FRAME_COLUMNS))
    frame["waited_days"] = frame["decision_id"].map(waited_days or {})
    frame["pd"] = frame["pd"].astype(float)
    frame["final_outcome"] = frame["override"].where(
        frame["override"].notna(), frame["model_outcome"]
    )
    # DAYS_BIRTH counts back from the application; add the days until the decision.
    waited = frame["waited_days"].fillna(0).clip(lower=0)
    frame["age_years"] = (-frame["days_birth"].astype(float) + waited) / 365.25
    frame["override"] = frame["override"].astype(object).where(frame["override"].notna(), None)
    return frame


def fairness_audit_list_for(*, user: AbstractBaseUser) -> QuerySet[FairnessAudit]:
    """Audits the user may read (compliance: all), newest first."""
    if not user.has_perm(Perm.VIEW_FAIRNESS_AUDITS):
        return FairnessAudit.objects.none()
    return FairnessAudit.objects.select_related("requested_by", "signed_off_by")


def fairness_audit_latest_for(*, user: AbstractBaseUser) -> FairnessAudit | None:
    """The newest completed audit the user may read (the dashboard tile)."""
    return (
        fairness_audit_list_for(user=user)
        .filter(status=FairnessAudit.Status.DONE)
        .order_by("-finished_at", "-id")
        .first()
    )


def fairness_filter_choices() -> dict[str, list]:
    """Model versions, policy versions and channels that decisions were made with."""
    return {
        "model_versions": list(
            Decision.objects.order_by("model_version__version")
            .values_list("model_version__version", flat=True)
            .distinct()
        ),
        "policy_versions": list(
            Decision.objects.order_by("policy__version")
            .values_list("policy__version", flat=True)
            .distinct()
        ),
    }


def latest_verification_run(*, user: AbstractBaseUser) -> ChainVerificationRun | None:
    """The newest chain verification, for readers of the trail; None for anyone else."""
    if not user.has_perm(Perm.VIEW_AUDIT_TRAIL):
        return None
    return ChainVerificationRun.objects.select_related("requested_by").first()
