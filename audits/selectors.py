"""Reads of the audit trail that pages and the API share."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from audits.models import AuditEvent
from credscope_site.roles import Perm


def audit_event_list(
    *, user: AbstractBaseUser, action: str = "", actor: str = "", target_type: str = ""
) -> QuerySet[AuditEvent]:
    """Events the user may read, newest first, filtered by the given fields when set."""
    if not user.has_perm(Perm.VIEW_AUDIT_TRAIL):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.select_related("actor").order_by("-sequence")
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_name__iexact=actor)
    if target_type:
        events = events.filter(target_type=target_type)
    return events


def events_for_target(*, target_type: str, target_id: str) -> QuerySet[AuditEvent]:
    """One object's history, oldest first (callers check the reader may see the object)."""
    return AuditEvent.objects.filter(target_type=target_type, target_id=str(target_id)).order_by(
        "sequence"
    )
