"""Reads of the audit trail that pages and the API share."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from audits.models import AuditEvent, ChainVerificationRun
from credscope_site.roles import Perm


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


def latest_verification_run(*, user: AbstractBaseUser) -> ChainVerificationRun | None:
    """The newest chain verification, for readers of the trail; None for anyone else."""
    if not user.has_perm(Perm.VIEW_AUDIT_TRAIL):
        return None
    return ChainVerificationRun.objects.select_related("requested_by").first()
