"""Adverse-action notices: for every final REJECT, as HTML and PDF, from the page, the API
and a batch zip; each one produced leaves an audit event (issue 11)."""

import io
import zipfile

import pytest
from django.urls import reverse
from pypdf import PdfReader

from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import BatchJob, DecisionOverride
from tests.applicants.test_api import client_for
from tests.applicants.test_views import login
from tests.factories import DecisionFactory, LoanApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db

REASONS = [
    {
        "code": "EXTERNAL_SCORES",
        "family": "external_scores",
        "text": "Low credit scores from external credit agencies",
        "fact": "average external score 0.21; 80% of applicants score higher",
        "contribution": 0.6,
        "features": ["EXT_SOURCE_MEAN"],
    },
    {
        "code": "NO_CREDIT_HISTORY",
        "family": "no_history",
        "text": "No credit history",
        "fact": "no records with credit bureaus and no previous loans or applications",
        "contribution": 0.3,
        "features": ["BURO_COUNT"],
    },
]


def _rejected(officer, **kwargs):
    application = LoanApplicationFactory(created_by=officer, status="DECIDED", **kwargs)
    application.applicant.full_name = "Jana Novak"
    application.applicant.save()
    return DecisionFactory(application=application, outcome="REJECT", reasons=REASONS)


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _notice_events():
    return AuditEvent.objects.filter(action=AuditAction.NOTICE_PRODUCED)


def test_the_pdf_notice_of_a_reject_holds_its_reasons_and_leaves_an_audit_event(officer):
    decision = _rejected(officer)
    url = f"/api/v1/applications/{decision.application_id}/adverse-action-notice.pdf"
    response = client_for(officer).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content[:4] == b"%PDF"
    text = " ".join(_pdf_text(response.content).split())
    for reason in REASONS:
        assert reason["text"] in text
    assert "Jana Novak" in text and "Declined on" in text
    assert "CredScope Demo Bank" in text and "Equal Credit Opportunity Act" in text
    assert decision.model_version.version in text and f"v{decision.policy.version}" in text
    event = _notice_events().get()
    assert event.actor_id == officer.pk and event.target_id == str(decision.application_id)
    assert event.payload["format"] == "pdf"


def test_the_print_page_is_linked_from_the_application_page_and_audited(client, officer):
    decision = _rejected(officer)
    client = login(client, officer)
    page = client.get(reverse("applicants:detail", args=[decision.application_id]))
    notice_url = reverse("applicants:notice", args=[decision.application_id])
    assert notice_url in page.content.decode()
    html = client.get(notice_url).content.decode()
    assert "Notice of action taken" in html and REASONS[0]["fact"].capitalize() in html
    assert "<script" not in html
    pdf = client.get(reverse("applicants:notice_pdf", args=[decision.application_id]))
    assert pdf.content[:4] == b"%PDF"
    assert [e.payload["format"] for e in _notice_events().order_by("pk")] == ["html", "pdf"]


def test_no_notice_for_an_approval_or_a_reject_overridden_to_approve(officer):
    approved = DecisionFactory(
        application=LoanApplicationFactory(created_by=officer, status="DECIDED"),
        outcome="APPROVE",
    )
    overridden = _rejected(officer)
    DecisionOverride.objects.create(
        decision=overridden, outcome="APPROVE", justification="verified income", reviewer=officer
    )
    client = client_for(officer)
    for decision in (approved, overridden):
        url = f"/api/v1/applications/{decision.application_id}/adverse-action-notice.pdf"
        response = client.get(url)
        assert response.status_code == 409 and "not declined" in response.json()["detail"]
    assert not _notice_events().exists()


def test_a_refer_overridden_to_reject_gets_a_notice(officer):
    decision = DecisionFactory(
        application=LoanApplicationFactory(created_by=officer, status="DECIDED"),
        outcome="REFER",
        reasons=REASONS,
    )
    DecisionOverride.objects.create(
        decision=decision, outcome="REJECT", justification="fraud check", reviewer=officer
    )
    url = f"/api/v1/applications/{decision.application_id}/adverse-action-notice.pdf"
    response = client_for(officer).get(url)
    assert response.status_code == 200
    assert "reviewed and confirmed by a credit officer" in " ".join(
        _pdf_text(response.content).split()
    )


@pytest.mark.parametrize(
    ("persona", "status"),
    [("officer", 200), ("other_officer", 404), ("compliance", 200), ("model_admin", 403)],
)
def test_who_may_read_a_notice(request, officer, persona, status):
    decision = _rejected(officer)
    user = request.getfixturevalue(persona)
    url = f"/api/v1/applications/{decision.application_id}/adverse-action-notice.pdf"
    assert client_for(user).get(url).status_code == status


def test_anonymous_gets_no_notice(client, officer):
    decision = _rejected(officer)
    url = f"/api/v1/applications/{decision.application_id}/adverse-action-notice.pdf"
    assert client.get(url).status_code == 401
    page = client.get(reverse("applicants:notice", args=[decision.application_id]))
    assert page.status_code in (302, 403)
    assert not _notice_events().exists()


def test_one_zip_per_batch_holds_a_notice_per_reject(officer):
    batch = BatchJob.objects.create(created_by=officer, filename="b.csv", status="done")
    rejects = [_rejected(officer, batch=batch, batch_row=i) for i in (1, 3)]
    DecisionFactory(
        application=LoanApplicationFactory(
            created_by=officer, status="DECIDED", batch=batch, batch_row=2
        ),
        outcome="APPROVE",
    )
    response = client_for(officer).get(f"/api/v1/batches/{batch.pk}/adverse-action-notices.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert names == sorted(f"adverse-action-notice-{d.application_id}.pdf" for d in rejects)
    assert all(archive.read(name)[:4] == b"%PDF" for name in names)
    event = _notice_events().get()
    assert sorted(event.payload["applications"]) == sorted(d.application_id for d in rejects)
    other = UserFactory(roles=["loan_officer"])
    assert (
        client_for(other).get(f"/api/v1/batches/{batch.pk}/adverse-action-notices.zip").status_code
        == 404
    )
