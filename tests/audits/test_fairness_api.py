"""The fairness-audit API and pages: compliance only, the documented shape, exports."""

from __future__ import annotations

import csv
import html
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audits.models import FairnessAudit
from tests.audits.fairness_support import Cohort, make_decisions

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def period() -> dict[str, str]:
    today = timezone.localdate().isoformat()
    return {"date_from": today, "date_to": today}


@pytest.fixture
def disparity(officer):
    make_decisions(
        officer=officer,
        cohorts=[
            Cohort(
                500,
                300,
                gender="F",
                referred=50,
                overridden_up=10,
                record_outcomes=True,
                defaulted=range(300, 500, 3),
            ),
            Cohort(
                500,
                200,
                gender="M",
                referred=50,
                overridden_down=10,
                record_outcomes=True,
                defaulted=range(200, 500, 3),
            ),
        ],
    )


@pytest.mark.parametrize(
    ("persona", "status"), [("officer", 403), ("model_admin", 403), (None, 401)]
)
def test_fairness_api_is_for_compliance_only(request, persona, status) -> None:
    user = request.getfixturevalue(persona) if persona else None
    assert api(user).post(reverse("api:fairness-audits"), period()).status_code == status
    assert api(user).get(reverse("api:fairness-audits")).status_code == status
    assert not FairnessAudit.objects.exists()


def test_compliance_runs_an_audit_and_reads_the_documented_shape(
    compliance, disparity, django_capture_on_commit_callbacks
) -> None:
    client = api(compliance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("api:fairness-audits"), {**period(), "attributes": ["CODE_GENDER"]}
        )
    assert response.status_code == 202
    audit_id = response.json()["id"]
    body = client.get(reverse("api:fairness-audit", args=[audit_id])).json()
    assert body["status"] == "done"
    gender = body["attributes"]["CODE_GENDER"]
    male = gender["groups"]["Male"]
    assert {"n", "approval_rate", "adverse_impact_ratio", "p_value", "verdict"} <= set(male)
    assert male["n"] == 500
    # Final decisions: 200 approved by the model; 10 referrals rejected on review.
    assert male["approval_rate"] == pytest.approx(0.4)
    assert gender["verdict"] == "fail"
    assert gender["overrides"]["Male"]["down"] == 10
    assert gender["overrides"]["Female"]["up"] == 10
    assert gender["outcomes"]["final"]["groups"]["Male"]["n"] == 500
    assert body["summary"]
    assert body["model_versions"] == ["fairness-test-model"]
    assert body["signed_off"] is None

    pdf = client.get(body["report_pdf"])
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    figures = client.get(body["figures_csv"])
    rows = list(csv.DictReader(io.StringIO(figures.content.decode())))
    ratio = next(
        r
        for r in rows
        if (r["section"], r["basis"], r["group"], r["metric"])
        == ("decisions", "final", "Male", "adverse_impact_ratio")
    )
    assert float(ratio["value"]) == pytest.approx(male["adverse_impact_ratio"])

    signed = client.post(
        reverse("api:fairness-audit-sign-off", args=[audit_id]),
        {"comment": "Escalated to the board."},
    )
    assert signed.status_code == 200
    assert signed.json()["signed_off"]["by"] == "compliance"
    again = client.post(
        reverse("api:fairness-audit-sign-off", args=[audit_id]), {"comment": "Changed my mind now."}
    )
    assert again.status_code == 409


def test_bad_requests_name_the_field(compliance) -> None:
    client = api(compliance)
    response = client.post(
        reverse("api:fairness-audits"),
        {"date_from": "2026-02-10", "date_to": "2026-02-01", "attributes": ["RACE"]},
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"date_to", "attributes"}
    response = client.post(reverse("api:fairness-audits"), {"date_from": "yesterday"})
    assert set(response.json()["errors"]) == {"date_from", "date_to"}
    assert client.get(reverse("api:fairness-audit", args=[9999])).status_code == 404
    assert not FairnessAudit.objects.exists()


@pytest.mark.parametrize(
    ("persona", "status"), [("officer", 403), ("model_admin", 403), ("compliance", 200)]
)
def test_fairness_pages_per_role(client, request, persona, status) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("fairness:list")).status_code == status
    assert client.get(reverse("fairness:new")).status_code == status


def test_anonymous_is_sent_to_sign_in(client) -> None:
    response = client.get(reverse("fairness:list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_new_audit_form_runs_and_shows_the_audit(
    client, compliance, disparity, django_capture_on_commit_callbacks
) -> None:
    client.force_login(compliance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("fairness:new"),
            {**period(), "attributes": ["CODE_GENDER", "AGE_BAND", "NAME_FAMILY_STATUS"]},
        )
    audit = FairnessAudit.objects.get()
    assert response["Location"] == reverse("fairness:detail", args=[audit.pk])
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert 'id="attribute-CODE_GENDER"' in page
    assert "Overrides" in page and "Outcomes" in page
    # Final decisions: women 310 of 500 (10 approved on review), men 200 of 500.
    assert "Male was approved at 0.65 times the rate of Female (p < 0.001, significant)" in page
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("fairness:detail", args=[audit.pk])}"' in dashboard
    assert "not signed off" in dashboard


def test_new_audit_form_reports_a_reversed_period(client, compliance) -> None:
    client.force_login(compliance)
    response = client.post(
        reverse("fairness:new"),
        {"date_from": "2026-02-10", "date_to": "2026-02-01", "attributes": ["CODE_GENDER"]},
    )
    assert response.status_code == 200
    assert "The end of the period is before its start." in response.content.decode()
    assert not FairnessAudit.objects.exists()


def test_a_running_audit_page_follows_it_and_a_failed_one_says_why(client, compliance) -> None:
    today = timezone.localdate()
    running = FairnessAudit.objects.create(
        date_from=today, date_to=today, attributes=["CODE_GENDER"], requested_by=compliance
    )
    failed = FairnessAudit.objects.create(
        date_from=today,
        date_to=today,
        attributes=["CODE_GENDER"],
        status="failed",
        failure_reason="The task queue was unavailable; run the audit again.",
    )
    client.force_login(compliance)
    page = client.get(reverse("fairness:detail", args=[running.pk])).content.decode()
    assert "Audit running" in page
    assert reverse("fairness:status", args=[running.pk]) in page
    assert client.get(reverse("fairness:status", args=[running.pk])).json() == {
        "status": "queued",
        "in_progress": True,
    }
    assert client.get(reverse("fairness:pdf", args=[running.pk])).status_code == 404
    page = client.get(reverse("fairness:detail", args=[failed.pk])).content.decode()
    assert "The audit failed" in page and "task queue was unavailable" in page
    assert (
        api(compliance).get(reverse("api:fairness-audit-csv", args=[failed.pk])).status_code == 409
    )


def test_the_openapi_schema_documents_the_fairness_and_outcome_endpoints(client) -> None:
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    for path in (
        "/api/v1/fairness-audits/",
        "/api/v1/fairness-audits/{audit_id}/",
        "/api/v1/fairness-audits/{audit_id}/sign-off/",
        "/api/v1/fairness-audits/{audit_id}/report.pdf",
        "/api/v1/fairness-audits/{audit_id}/figures.csv",
        "/api/v1/applications/{application_id}/outcome/",
    ):
        assert path in paths, path
