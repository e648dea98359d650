"""Sign-ins, sign-outs and failed sign-ins go into the audit trail.

Django announces these only through signals, so the receivers are thin doors. Failed sign-ins
are aggregated: anyone can fail to sign in, as often as they like, and one event per attempt
would let an anonymous visitor grow the append-only trail without bound. Attempts are counted
per (attempted username, client address, window of CREDSCOPE_FAILED_SIGN_IN_WINDOW seconds);
the trail gets an event when that count reaches 1, 10, 100, 1,000, ... and one for the rest
when the window closes (celery beat, every minute). Each event carries its `count`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from audits.models import FailedSignInWindow

NO_USERNAME = "(no username)"


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
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    failed_sign_in_record(username=str(credentials.get("username", "")), address=address)


def _window_start(at: datetime) -> datetime:
    seconds = settings.CREDSCOPE_FAILED_SIGN_IN_WINDOW
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=at.tzinfo)


def _is_milestone(count: int) -> bool:
    """1, 10, 100, ...: a burst of n attempts reports about log10(n) times."""
    while count % 10 == 0:
        count //= 10
    return count == 1


@transaction.atomic
def failed_sign_in_record(
    *, username: str, address: str, at: datetime | None = None
) -> FailedSignInWindow:
    """Count one failed sign-in; append an event if the window's count reached a milestone."""
    at = at or timezone.now()
    key = {
        "username": username[:150] or NO_USERNAME,
        "address": address[:45],
        "window_start": _window_start(at),
    }
    try:
        with transaction.atomic():
            window, _ = FailedSignInWindow.objects.get_or_create(**key)
    except IntegrityError:  # another request created it between our get and create
        window = FailedSignInWindow.objects.get(**key)
    window = FailedSignInWindow.objects.select_for_update().get(pk=window.pk)
    window.count += 1
    if _is_milestone(window.count):
        _report(window, final=False)
    window.save(update_fields=["count", "reported"])
    return window


def failed_sign_in_windows_close(*, now: datetime | None = None) -> int:
    """Report the unreported rest of every window that has ended, then drop those counters.

    Returns how many events were appended.
    """
    now = now or timezone.now()
    ended_before = now - timedelta(seconds=settings.CREDSCOPE_FAILED_SIGN_IN_WINDOW)
    appended = 0
    pending = FailedSignInWindow.objects.filter(window_start__lte=ended_before).values_list(
        "pk", flat=True
    )
    for pk in list(pending):
        with transaction.atomic():
            window = FailedSignInWindow.objects.select_for_update().filter(pk=pk).first()
            if window is None:  # another closer got it
                continue
            if window.count > window.reported:
                _report(window, final=True)
                appended += 1
            window.delete()
    return appended


def _report(window: FailedSignInWindow, *, final: bool) -> None:
    trail.record(
        action=AuditAction.LOGIN_FAILED,
        actor_name=window.username,
        target_type="auth.user",
        payload={
            "username": "" if window.username == NO_USERNAME else window.username,
            "address": window.address,
            "count": window.count - window.reported,
            "total_in_window": window.count,
            "window_start": window.window_start.isoformat(),
            "window_seconds": settings.CREDSCOPE_FAILED_SIGN_IN_WINDOW,
            "window_closed": final,
        },
    )
    window.reported = window.count
