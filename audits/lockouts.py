"""A brute-force lockout goes into the audit trail once.

django-axes announces a lockout through its `user_locked_out` signal, both when the limit is
reached and on every refused attempt while the lock holds. Only the attempt that reached the
limit carries the failure count (axes sets it when it counts a failure), so that one is
recorded and the refusals after it are not: one event per lockout.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver

from audits import trail
from audits.actions import AuditAction


@receiver(user_locked_out, dispatch_uid="audits.locked_out")
def record_lockout(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:  # a refusal while already locked, not a new lockout
        return
    attempted = str(username or "")[:150]
    trail.record(
        action=AuditAction.LOGIN_LOCKED_OUT,
        actor_name=attempted or "(no username)",
        target_type="auth.user",
        payload={
            "username": attempted,
            "address": ip_address or "",
            "door": getattr(request, "path", ""),
            "failures": failures,
            "cool_off_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
    )
