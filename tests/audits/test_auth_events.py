"""Sign-ins, sign-outs and failed sign-ins are in the audit trail; a burst of failed sign-ins
is a handful of events, each with its count."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import auth_events, tasks, trail
from audits.actions import AuditAction
from audits.models import AuditEvent, FailedSignInWindow
from tests.factories import DEFAULT_PASSWORD


@pytest.mark.django_db
def test_login_logout_and_failed_login_are_recorded(client, officer) -> None:
    bad = client.post(reverse("login"), {"username": "officer", "password": "wrong"})
    assert bad.status_code == 200
    assert "Please enter a correct username and password" in bad.content.decode()
    good = client.post(reverse("login"), {"username": "officer", "password": DEFAULT_PASSWORD})
    assert good.status_code == 302
    client.post(reverse("logout"))

    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.action for e in events] == [
        AuditAction.LOGIN_FAILED,
        AuditAction.LOGIN,
        AuditAction.LOGOUT,
    ]
    failed, login, logout = events
    assert failed.actor_id is None and failed.actor_name == "officer"
    assert failed.payload["username"] == "officer" and failed.payload["count"] == 1
    assert failed.payload["address"] == "127.0.0.1"
    assert "wrong" not in str(failed.payload)  # the password never reaches the trail
    assert login.actor_id == officer.pk and logout.actor_id == officer.pk
    assert login.request_id and login.request_id != logout.request_id
    assert trail.verify().intact


@pytest.fixture
def clock(monkeypatch):
    """Time that starts one second into the current minute and moves 5 ms per reading.

    Near the real time, not a fixed date: django-axes reads the real clock to find the
    attempts within its cool-off (15 minutes), so a fixed start made the lockout vanish
    once that date was more than 15 minutes past."""
    start = datetime.now(UTC).replace(second=1, microsecond=0)
    ticks = itertools.count()
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(milliseconds=5 * next(ticks)))
    return start


@pytest.mark.django_db
def test_a_thousand_failed_sign_ins_in_a_minute_are_a_handful_of_counted_events(
    client, officer, clock
) -> None:
    for attempt in range(1000):
        response = client.post(
            reverse("login"), {"username": "officer", "password": f"guess-{attempt}"}
        )
        # django-axes locks the account at LOGIN_FAILURE_LIMIT (10); the guesses after that
        # are refused (429) and still counted here, as failed sign-ins.
        assert response.status_code == (200 if attempt < 9 else 429)
    assert timezone.now() - clock < timedelta(minutes=1)
    during = list(AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).order_by("sequence"))
    assert [e.payload["total_in_window"] for e in during] == [1, 10, 100, 1000]
    assert [e.payload["count"] for e in during] == [1, 9, 90, 900]

    # The window closes with nothing left to report: the milestones covered every attempt.
    assert auth_events.failed_sign_in_windows_close(now=clock + timedelta(minutes=2)) == 0
    assert FailedSignInWindow.objects.count() == 0
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 4
    assert trail.verify().intact


@pytest.mark.django_db
def test_the_rest_of_a_window_is_reported_when_it_closes(client, clock) -> None:
    start = clock
    for _ in range(37):
        auth_events.failed_sign_in_record(username="alice", address="10.0.0.9", at=start)
    auth_events.failed_sign_in_record(username="", address="10.0.0.9", at=start)
    # Another address, and the same address in the next minute, are windows of their own.
    auth_events.failed_sign_in_record(username="alice", address="10.0.0.7", at=start)
    auth_events.failed_sign_in_record(
        username="alice", address="10.0.0.9", at=start + timedelta(minutes=1)
    )
    assert AuditEvent.objects.count() == 1 + 1 + 1 + 1 + 1  # alice 1, 10; (none) 1; .7; next

    # Beat's task: only windows that have ended are closed.
    closed_at = start + timedelta(seconds=61)
    assert auth_events.failed_sign_in_windows_close(now=closed_at) == 1  # alice's 27 others
    final = AuditEvent.objects.order_by("-sequence").first()
    assert final.payload["count"] == 27 and final.payload["total_in_window"] == 37
    assert final.payload["window_closed"] is True and final.actor_name == "alice"
    assert FailedSignInWindow.objects.count() == 1  # the next minute's window is still open
    nobody = AuditEvent.objects.get(actor_name=auth_events.NO_USERNAME)
    assert nobody.payload["username"] == "" and nobody.payload["count"] == 1

    counted = sum(
        e.payload["count"] for e in AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    )
    assert counted == 37 + 1 + 1 + 1
    # The beat task, on the (test) clock: the next minute's window has not ended yet.
    assert tasks.close_failed_sign_in_windows() == 0
    assert FailedSignInWindow.objects.count() == 1
    assert trail.verify().intact
