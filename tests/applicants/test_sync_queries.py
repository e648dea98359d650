"""A decision made within the request (`POST /api/v1/applications/?wait=true`) costs at most
ten queries: scored before anything is written, then saved DECIDED with its decision and both
audit events (one lock) in one transaction, and answered without reading it back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from applicants.models import LoanApplication
from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import queue, registry
from scoring.models import Decision
from tests.factories import DEFAULT_PASSWORD, SEED_APPLICATION_ROW

pytestmark = pytest.mark.django_db
ROW = SEED_APPLICATION_ROW
MAX_QUERIES = 10


def statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements a request runs; the savepoints are the test's own transaction (in
    production the request's transaction is BEGIN/COMMIT, which Django does not log)."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def test_a_decision_within_the_request_costs_at_most_ten_queries(officer, trained_model) -> None:
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD}
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.post("/api/v1/applications/?wait=true", ROW, format="json")  # model loaded once

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/applications/?wait=true", ROW, format="json")
    assert response.status_code == 201, response.content
    ran = statements(captured)
    assert len(ran) <= MAX_QUERIES, "\n".join(sql[:120] for sql in ran)

    body = response.json()
    application = LoanApplication.objects.get(pk=body["id"])
    decision = Decision.objects.get(application=application)
    assert application.status == body["status"] == "DECIDED" and application.attempts == 1
    # Answered from memory, yet the same as reading it back.
    assert body == client.get(f"/api/v1/applications/{application.pk}/").json()
    assert body["decision"]["outcome"] == decision.outcome
    assert body["decision"]["model_version"] == trained_model.version
    events = AuditEvent.objects.filter(
        target_type="applicants.loanapplication", target_id=str(application.pk)
    ).order_by("sequence")
    assert [e.action for e in events] == [
        AuditAction.APPLICATION_SUBMITTED,
        AuditAction.APPLICATION_DECIDED,
    ]
    submitted, decided = events
    assert submitted.payload["after"] == {"status": "SUBMITTED"}
    assert decided.payload["before"] == {"status": "SUBMITTED"}
    assert decided.payload["after"]["outcome"] == decision.outcome
    assert decided.sequence == submitted.sequence + 1
    assert trail.verify().intact


def test_when_scoring_in_the_request_fails_the_application_is_saved_and_queued(
    officer, trained_model, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    def broken(**kwargs):
        raise ValueError("the bundle is being swapped")

    monkeypatch.setattr(registry, "score_record", broken)
    client = APIClient()
    client.force_authenticate(officer)
    sent: list[int] = []
    monkeypatch.setattr(
        queue, "application_scoring_enqueue", lambda *, application_id: sent.append(application_id)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/applications/?wait=true", ROW, format="json")
    assert response.status_code == 202, response.content
    application = LoanApplication.objects.get(pk=response.json()["id"])
    assert application.status == "SUBMITTED" and sent == [application.pk]
    assert not Decision.objects.exists()
