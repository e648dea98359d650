"""Sign-ins, sign-outs and failed sign-ins go into the audit trail.

Django announces these only through signals, so these receivers are the thin door: each one
records a single event and nothing else.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audits import trail
from audits.actions import AuditAction


@receiver(user_logged_in, dispatch_uid="audits.login")
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    trail.record(action=AuditAction.LOGIN, actor=user, target=user)


@receiver(user_logged_out, dispatch_uid="audits.logout")
def record_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        trail.record(action=AuditAction.LOGOUT, actor=user, target=user)


@receiver(user_login_failed, dispatch_uid="audits.login_failed")
def record_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    # Django has already masked the password; only the attempted username is kept, so a run of
    # guesses against one account is visible to compliance.
    attempted = str(credentials.get("username", ""))[:150]
    trail.record(
        action=AuditAction.LOGIN_FAILED,
        actor_name=attempted or "(no username)",
        target_type="auth.user",
        payload={"username": attempted},
    )
