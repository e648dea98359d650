"""The audit trail page for investigators: labels, target links, payloads, filters, the CSV
export and "Verify chain", for each role."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent, ChainVerificationRun
from scoring.decide import decided_payload
from tests.audits.test_trail import tamper
from tests.factories import DecisionFactory, ModelVersionFactory

TRAIL = reverse("audits:trail")
EXPORT = reverse("audits:export")
VERIFY = reverse("audits:verify")


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture
def history(officer, other_officer, monkeypatch):
    """A decided application, a batch, a model and a failed sign-in, over three days of
    November (the clock is set for each record, then given back)."""
    decision = DecisionFactory(application__created_by=officer, outcome="REJECT")
    application = decision.application
    model = ModelVersionFactory(version="20261130-101500-abcdef12")

    def on(day: int, **event) -> None:
        with monkeypatch.context() as patch:
            patch.setattr(timezone, "now", lambda: at(day))
            trail.record(**event)

    on(1, action=AuditAction.APPLICATION_SUBMITTED, actor=officer, target=application,
       payload={"before": None, "after": {"status": "SUBMITTED"}})  # fmt: skip
    on(1, action=AuditAction.APPLICATION_DECIDED, target=application,
       payload=decided_payload(decision, task_id="t-1"))  # fmt: skip
    on(2, action=AuditAction.BATCH_SUBMITTED, actor=other_officer,
       target_type="scoring.batchjob", target_id=3, payload={"filename": "b.csv"})  # fmt: skip
    on(3, action=AuditAction.MODEL_ACTIVATED, target=model, payload={"version": model.version})
    on(3, action=AuditAction.LOGIN_FAILED, actor_name="=HYPERLINK(1)", target_type="auth.user",
       payload={"username": "=HYPERLINK(1)", "count": 9, "total_in_window": 10})  # fmt: skip
    return application, model


def rows(page: str) -> str:
    return page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "trail_status", "verify_status"),
    [("officer", 403, 403), ("model_admin", 403, 403), ("compliance", 200, 302)],
)
def test_only_readers_of_the_trail_see_export_and_verify_it(
    client, request, persona, trail_status, verify_status
) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(TRAIL).status_code == trail_status
    assert client.get(EXPORT).status_code == trail_status
    assert client.post(VERIFY).status_code == verify_status
    assert ChainVerificationRun.objects.exists() is (verify_status == 302)


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client) -> None:
    for response in (client.get(TRAIL), client.get(EXPORT), client.post(VERIFY)):
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not ChainVerificationRun.objects.exists()


@pytest.mark.django_db
def test_events_read_as_labels_links_and_expandable_facts(client, compliance, history) -> None:
    application, model = history
    client.force_login(compliance)
    page = rows(client.get(TRAIL).content.decode())
    assert "Application decided" in page and "application.decided</" not in page
    assert f'<a href="/applications/{application.pk}/">Application #{application.pk}</a>' in page
    assert '<a href="/batches/3/">Batch #3</a>' in page
    assert f'<a href="/models/{model.version}/">Model {model.version}</a>' in page
    assert "<details" in page and "<dt>Outcome</dt><dd>REJECT</dd>" in page
    assert "<dt>Probability of default</dt><dd>12.0%</dd>" in page
    assert "CREDIT_TO_INCOME, AGE" in page  # the reasons
    assert "<dt>Attempts</dt><dd>9 (window total 10)</dd>" in page
    assert "2026-11-01 12:00:00 UTC" in page


@pytest.mark.django_db
def test_times_are_shown_in_the_configured_zone_and_named(client, compliance, history, settings):
    settings.TIME_ZONE = "Europe/Paris"
    client.force_login(compliance)
    page = client.get(TRAIL).content.decode()
    assert "<th>When (Europe/Paris)</th>" in page
    assert "2026-11-01 13:00:00 CET" in rows(page)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "sequences"),
    [
        ({"date_from": "2026-11-02", "date_to": "2026-11-02"}, [3]),
        ({"date_from": "2026-11-03", "date_to": "2026-11-30"}, [5, 4]),
        ({"actor": "OTHER_OFFICER"}, [3]),
        ({"action": "application.decided"}, [2]),
        ({"target_type": "applicants.loanapplication"}, [2, 1]),
        ({"target_type": "scoring.batchjob", "target_id": "3"}, [3]),
    ],
)
def test_filters_narrow_the_trail(client, compliance, history, query, sequences) -> None:
    client.force_login(compliance)
    response = client.get(TRAIL, query)
    assert [e.sequence for e in response.context["events"]] == sequences


@pytest.mark.django_db
def test_bad_filters_are_named_and_match_nothing(client, compliance, history) -> None:
    client.force_login(compliance)
    page = client.get(TRAIL, {"date_from": "2026-11-05", "date_to": "2026-11-01"}).content.decode()
    assert "The end date is before the start date." in page
    assert "These filters cannot be applied" in page and rows(page) == ""
    bad = client.get(EXPORT, {"date_from": "yesterday"})
    assert bad.status_code == 400 and "date_from: Enter a valid date." in bad.content.decode()
    assert not AuditEvent.objects.filter(action=AuditAction.TRAIL_EXPORTED).exists()


@pytest.mark.django_db
def test_the_csv_export_streams_the_filtered_events_safely(client, compliance, history) -> None:
    application, _ = history
    client.force_login(compliance)
    query = {"target_type": "applicants.loanapplication", "target_id": str(application.pk)}
    response = client.get(EXPORT, query)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:5] == ["sequence", "occurred_at (UTC)", "actor", "action", "action_label"]
    assert [(r[0], r[4], r[7]) for r in table[1:]] == [
        ("2", "Application decided", f"Application #{application.pk}"),
        ("1", "Application submitted", f"Application #{application.pk}"),
    ]
    exported = AuditEvent.objects.get(action=AuditAction.TRAIL_EXPORTED)
    assert exported.actor_id == compliance.pk and exported.payload == {"filters": query}

    everything = client.get(EXPORT)
    lines = list(csv.reader(io.StringIO(b"".join(everything.streaming_content).decode())))
    failed = next(r for r in lines[1:] if r[3] == AuditAction.LOGIN_FAILED)
    assert failed[2] == "'=HYPERLINK(1)"  # never a live formula in a spreadsheet


@pytest.mark.django_db
def test_verify_chain_stores_the_result_and_the_dashboard_shows_it(
    client, compliance, history, django_capture_on_commit_callbacks
) -> None:
    client.force_login(compliance)  # the sign-in is event 6
    assert "has not been verified yet" in client.get(reverse("dashboard")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the task runs in process here
        response = client.post(VERIFY, follow=True)
    assert "Chain verification started" in response.content.decode()
    run = ChainVerificationRun.objects.get()
    assert run.status == "intact" and run.requested_by == compliance
    assert run.events_checked == 7  # five events, the sign-in and the request itself
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Chain verification: <span" in dashboard and ">Intact</span>" in dashboard
    assert "7 events; no checkpoint yet." in dashboard and "by compliance" in dashboard

    tamper("UPDATE audits_auditevent SET actor_name = 'mallory' WHERE sequence = 3", [])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(VERIFY)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert ">Broken</span>" in dashboard
    assert "(sequence 3): its content does not match its hash" in dashboard


@pytest.mark.django_db
def test_officers_dashboards_show_no_verification(client, officer) -> None:
    client.force_login(officer)
    assert "Chain verification" not in client.get(reverse("dashboard")).content.decode()
