"""Password guessing is stopped at every door (probe item 3).

The probe sent 50 wrong passwords in a row to the sign-in page (all answered 200) and the
right one then signed in. Now django-axes locks the username, and separately the address,
after LOGIN_FAILURE_LIMIT failures, whether they came through the sign-in page, /admin/login/
or the API's token endpoint; the right password is refused until the cool-off has passed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audits.actions import AuditAction
from audits.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
ATTACKER = "198.51.100.66"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the token endpoint's throttle counts in the cache
    yield
    cache.clear()


def web_sign_in(client, username: str, password: str, address: str = ATTACKER):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def cool_off_passes() -> None:
    """Move every recorded failure back past the cool-off, as if that time had gone by."""
    from django.conf import settings

    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )


def test_fifty_wrong_web_sign_ins_lock_the_account_until_the_cool_off(client, officer) -> None:
    codes = [web_sign_in(client, "officer", f"wrong-{n}").status_code for n in range(50)]
    assert codes[:9] == [200] * 9  # the form again, with its error
    assert codes[9:] == [429] * 41  # LOGIN_FAILURE_LIMIT = 10
    locked = web_sign_in(client, "officer", DEFAULT_PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text and "15 minutes" in locked.text
    assert locked["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302  # still sent to sign in
    # The same account from another address is locked too (the lock is per username).
    assert web_sign_in(client, "officer", DEFAULT_PASSWORD, "203.0.113.5").status_code == 429

    cool_off_passes()
    response = web_sign_in(client, "officer", DEFAULT_PASSWORD)
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(officer.pk)


def test_a_lockout_is_audited_once(client, officer) -> None:
    for n in range(50):
        web_sign_in(client, "officer", f"wrong-{n}")
    events = AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT)
    assert events.count() == 1
    event = events.get()
    assert event.actor_name == "officer"
    assert event.payload["failures"] == 10 and event.payload["cool_off_minutes"] == 15
    assert event.payload["address"] == ATTACKER and event.payload["door"] == reverse("login")
    assert "password" not in str(event.payload)


def test_an_address_guessing_many_usernames_is_locked(client, officer) -> None:
    for n in range(10):
        web_sign_in(client, f"someone{n}", "guess")
    # The officer's right password is refused from the guessing address, not from their own.
    assert web_sign_in(client, "officer", DEFAULT_PASSWORD).status_code == 429
    assert web_sign_in(client, "officer", DEFAULT_PASSWORD, "203.0.113.5").status_code == 302


def test_the_admin_sign_in_shares_the_lock(client) -> None:
    UserFactory(username="root", is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    for n in range(10):
        client.post(
            admin_login, {"username": "root", "password": f"x{n}"}, REMOTE_ADDR="203.0.113.9"
        )
    response = web_sign_in(client, "root", DEFAULT_PASSWORD, "203.0.113.10")
    assert response.status_code == 429
    right = client.post(
        admin_login,
        {"username": "root", "password": DEFAULT_PASSWORD, "next": "/admin/"},
        REMOTE_ADDR="203.0.113.11",
    )
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_the_token_endpoint_shares_the_lock(client, officer) -> None:
    api = APIClient()
    for n in range(5):  # half through the web page, half through the API
        web_sign_in(client, "officer", f"wrong-{n}", f"203.0.113.{n}")
    codes = [
        api.post(
            TOKEN, {"username": "officer", "password": f"x{n}"}, REMOTE_ADDR=f"203.0.113.{20 + n}"
        ).status_code
        for n in range(5)
    ]
    assert codes == [401, 401, 401, 401, 429]
    refused = api.post(
        TOKEN, {"username": "officer", "password": DEFAULT_PASSWORD}, REMOTE_ADDR="203.0.113.99"
    )
    assert refused.status_code == 429
    body = refused.json()
    assert body["detail"].startswith("Too many failed sign-ins") and body["errors"]["body"]
    assert refused["Retry-After"] == "900"
    # ... and a lock reached through the API holds on the sign-in page.
    assert web_sign_in(client, "officer", DEFAULT_PASSWORD, "203.0.113.98").status_code == 429

    cool_off_passes()
    issued = api.post(
        TOKEN, {"username": "officer", "password": DEFAULT_PASSWORD}, REMOTE_ADDR="203.0.113.99"
    )
    assert issued.status_code == 200 and issued.json()["token"]


def test_a_successful_sign_in_clears_the_failures(client, officer) -> None:
    for n in range(9):
        web_sign_in(client, "officer", f"wrong-{n}")
    assert web_sign_in(client, "officer", DEFAULT_PASSWORD).status_code == 302
    client.logout()
    # Nine more failures do not lock: the count started again after the success.
    codes = [web_sign_in(client, "officer", f"again-{n}").status_code for n in range(9)]
    assert codes == [200] * 9
