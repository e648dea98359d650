"""A fairness audit round-trips through a real Celery worker, and the beat entry is there."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audits import fairness_services
from audits.models import FairnessAudit
from tests.audits.fairness_support import Cohort, make_decisions


@pytest.mark.celery_worker
@pytest.mark.slow
def test_a_requested_audit_is_run_by_the_worker(celery_worker_process, officer, compliance):
    make_decisions(
        officer=officer, cohorts=[Cohort(60, 36, gender="F"), Cohort(60, 24, gender="M")]
    )
    today = timezone.localdate()
    audit = fairness_services.fairness_audit_request(
        actor=compliance, date_from=today - timedelta(days=1), date_to=today
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        audit.refresh_from_db()
        if audit.status in ("done", "failed"):
            break
        time.sleep(0.3)
    assert audit.status == "done", audit.failure_reason
    assert audit.snapshot["figures"]["totals"]["decisions"] == 120
    assert fairness_services.snapshot_intact(audit)


def test_beat_runs_the_previous_months_audit_monthly() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["fairness-audit-monthly"]
    assert entry["task"] == "audits.tasks.run_monthly_fairness_audit"
    schedule = entry["schedule"]
    assert schedule.day_of_month == {1}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["officer", "model_admin"])
def test_other_roles_cannot_sign_off_or_export_from_the_pages(
    client, request, persona, compliance, django_capture_on_commit_callbacks
) -> None:
    make_decisions(officer=request.getfixturevalue("officer"), cohorts=[Cohort(30, 20)])
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        audit = fairness_services.fairness_audit_request(
            actor=compliance, date_from=today, date_to=today
        )
    client.force_login(request.getfixturevalue(persona))
    for name in ("fairness:detail", "fairness:pdf", "fairness:csv"):
        assert client.get(reverse(name, args=[audit.pk])).status_code == 403, name
    response = client.post(reverse("fairness:sign_off", args=[audit.pk]), {"comment": "x" * 20})
    assert response.status_code == 403
    assert FairnessAudit.objects.get(pk=audit.pk).signed_off_at is None
