"""Sign-ins, sign-outs and failed sign-ins are in the audit trail."""

import pytest
from django.urls import reverse

from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
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
    assert failed.actor_id is None and failed.payload == {"username": "officer"}
    assert "wrong" not in str(failed.payload)  # the password never reaches the trail
    assert login.actor_id == officer.pk and logout.actor_id == officer.pk
    assert login.request_id and login.request_id != logout.request_id
    assert trail.verify().intact
