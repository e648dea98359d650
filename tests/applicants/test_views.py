"""The officer's pages through Django's test client: who may open what, and what they show."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from applicants import views as applicant_views
from applicants.models import Applicant, LoanApplication
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import DecisionOverride
from tests.applicants.test_forms import form_data
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db

JUSTIFICATION = "Permanent contract since 2015 and no debts elsewhere; approved on review."


@pytest.fixture
def referred(officer):
    return DecisionFactory(
        application__created_by=officer,
        application__applicant__full_name="Jana Novak",
        outcome="REFER",
    )


def login(client, user):
    client.force_login(user)
    return client


# --- who may open what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url_name", "expected"),
    [
        (
            "applicants:list",
            {"officer": 200, "compliance": 200, "model_admin": 403, "reviewer": 200},
        ),
        (
            "applicants:new",
            {"officer": 200, "compliance": 403, "model_admin": 403, "reviewer": 403},
        ),
        (
            "applicants:review",
            {"officer": 403, "compliance": 403, "model_admin": 403, "reviewer": 200},
        ),
        (
            "applicants:override_report",
            {"officer": 403, "compliance": 200, "model_admin": 403, "reviewer": 403},
        ),
    ],
)
@pytest.mark.parametrize("persona", ["officer", "compliance", "model_admin", "reviewer"])
def test_pages_per_role(client, request, url_name, expected, persona) -> None:
    response = login(client, request.getfixturevalue(persona)).get(reverse(url_name))
    assert response.status_code == expected[persona]
    if response.status_code == 403:
        assert "Not allowed" in response.content.decode()


@pytest.mark.parametrize(
    ("persona", "detail", "override"),
    [
        ("officer", 200, 403),  # their own: four eyes
        ("reviewer", 200, 302),
        ("compliance", 200, 403),
        ("model_admin", 403, 403),
    ],
)
def test_application_pages_per_role(client, request, referred, persona, detail, override) -> None:
    client = login(client, request.getfixturevalue(persona))
    pk = referred.application_id
    assert client.get(reverse("applicants:detail", args=[pk])).status_code == detail
    assert client.get(reverse("applicants:status", args=[pk])).status_code == detail
    response = client.post(
        reverse("applicants:override", args=[pk]),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
    )
    assert response.status_code == override
    assert DecisionOverride.objects.exists() == (override == 302)


@pytest.mark.parametrize(
    "url",
    [
        "/applications/",
        "/applications/new/",
        "/applications/1/",
        "/applications/1/status/",
        "/review/",
        "/review/report/",
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_another_officers_application_is_not_found(client, other_officer, referred) -> None:
    client = login(client, other_officer)
    pk = referred.application_id
    for name in ("applicants:detail", "applicants:status"):
        response = client.get(reverse(name, args=[pk]))
        assert response.status_code == 404
        assert "Jana Novak" not in response.content.decode()
    response = client.post(
        reverse("applicants:override", args=[pk]),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
    )
    assert response.status_code == 404
    assert not DecisionOverride.objects.exists()
    listing = client.get(reverse("applicants:list")).content.decode()
    assert "Jana Novak" not in listing
    assert "No applications yet" in listing
    assert client.get(reverse("applicants:review")).status_code == 403  # officers do not review


def test_navigation_shows_an_officer_their_pages(client, officer) -> None:
    response = login(client, officer).get(reverse("dashboard"))
    labels = [item["label"] for item in response.context["nav_items"]]
    assert labels == ["Dashboard", "Applications", "New application", "Batches"]


# --- the new-application form -------------------------------------------------------------------


def test_a_bad_form_keeps_every_value_and_says_what_is_wrong(client, officer) -> None:
    data = form_data(credit="-5", birth_date="2015-01-01", ext_source_2="0.61")
    response = login(client, officer).post(reverse("applicants:new"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please correct the 2 fields marked below" in html
    assert re.search(r'id="field-credit">.*?Enter an amount greater than 0\.', html, re.S)
    assert re.search(r'id="field-birth_date">.*?between 18 and 100 years old', html, re.S)
    for value in ('value="  Jana   Novak "', 'value="-5"', 'value="2015-01-01"', 'value="0.61"'):
        assert value in html, value
    assert '<option value="Accountants" selected>' in html
    assert not LoanApplication.objects.exists()


def test_a_valid_form_goes_to_the_submit_service_and_lands_on_the_application(
    client, officer, monkeypatch
) -> None:
    calls = []

    def fake_submit(**kwargs):
        calls.append(kwargs)
        return LoanApplicationFactory(created_by=officer), True

    monkeypatch.setattr(applicant_views.submit, "application_submit", fake_submit)
    response = login(client, officer).post(
        reverse("applicants:new"), form_data(idempotency_key="k-123")
    )
    application = LoanApplication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("applicants:detail", args=[application.pk])
    (call,) = calls
    assert call["actor"] == officer and call["channel"] == "web"
    assert call["full_name"] == "Jana Novak" and call["external_id"] is None
    assert call["idempotency_key"] == "k-123"
    assert call["application_row"]["AMT_CREDIT"] == 450000.0
    assert call["application_row"]["DAYS_BIRTH"] < 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_with_the_queue_down_the_application_is_saved_and_the_officer_warned(
    client, officer, trained_model, monkeypatch
) -> None:
    """The broker refuses the task: no error page, the saved application's page with a
    warning that it will be scored once the queue is back (it stays SUBMITTED)."""
    from kombu.exceptions import OperationalError

    from credscope_site.celery import app

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app, "send_task", broker_down)
    response = login(client, officer).post(reverse("applicants:new"), form_data(), follow=True)
    application = LoanApplication.objects.get()
    assert application.status == LoanApplication.Status.SUBMITTED
    assert response.status_code == 200
    assert response.redirect_chain == [(reverse("applicants:detail", args=[application.pk]), 302)]
    page = response.content.decode()
    assert "The application is saved" in page and "scoring queue is unreachable" in page
    assert AuditEvent.objects.filter(
        action=AuditAction.APPLICATION_SUBMITTED, target_id=str(application.pk)
    ).exists()


def test_without_an_active_model_nothing_is_saved_and_the_officer_is_told(client, officer) -> None:
    response = login(client, officer).post(reverse("applicants:new"), form_data())
    assert response.status_code == 400
    assert "No model is active" in response.content.decode()
    assert 'value="  Jana   Novak "' in response.content.decode()
    assert not Applicant.objects.exists() and not LoanApplication.objects.exists()


# --- the application page -----------------------------------------------------------------------


def test_application_page_explains_the_decision(client, officer, referred) -> None:
    response = login(client, officer).get(
        reverse("applicants:detail", args=[referred.application_id])
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="model-outcome">Refer<' in html
    assert "12.0%" in html  # the PD under the gauge
    assert 'class="gauge"' in html
    assert "Requested credit is high relative to income" in html
    assert "4.2 times annual income" in html
    assert "test-model-v1" in html and f"v{referred.policy.version}" in html
    chart = json.loads(
        re.search(
            r'<script id="contributions-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert len(chart["values"]) == 10
    assert chart["values"][0] == -0.62  # largest in size first, sign kept
    assert chart["labels"][0] == "External score 2 = 0.21"
    assert "Age = 24.6 years" in chart["labels"]
    assert "vendor/chart.umd.min.js" in html
    assert "Record my decision" not in html  # their own: a second person reviews it
    assert "awaiting a credit reviewer's decision" in html
    assert "Annual income" in html and "180,000" in html


def test_page_of_an_application_being_scored_polls_its_status(client, officer) -> None:
    application = LoanApplicationFactory(created_by=officer, status="SCORING")
    client = login(client, officer)
    html = client.get(reverse("applicants:detail", args=[application.pk])).content.decode()
    status_url = reverse("applicants:status", args=[application.pk])
    assert f'data-status-url="{status_url}"' in html
    assert "Scoring in progress" in html
    status = client.get(status_url).json()
    assert status == {
        "id": application.pk,
        "status": "SCORING",
        "status_label": "Scoring",
        "in_progress": True,
        "outcome": None,
        "failure_reason": None,
    }


def test_a_failed_application_says_why(client, officer) -> None:
    application = LoanApplicationFactory(
        created_by=officer, status="FAILED", failure_reason="error after 6 attempt(s): boom"
    )
    html = login(client, officer).get(reverse("applicants:detail", args=[application.pk]))
    assert "Scoring failed" in html.content.decode()
    assert "boom" in html.content.decode()


def test_known_credit_history_sent_inline_is_summarised(client, officer) -> None:
    history = {
        "bureau": [
            {"SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active", "AMT_CREDIT_SUM_OVERDUE": 1500.0,
             "CREDIT_DAY_OVERDUE": 40, "AMT_CREDIT_SUM_DEBT": 20000.0},
            {"SK_ID_BUREAU": 2, "CREDIT_ACTIVE": "Closed", "AMT_CREDIT_SUM_OVERDUE": 0.0},
        ],
        "previous_application": [{"SK_ID_PREV": 9, "NAME_CONTRACT_STATUS": "Refused"}],
        "installments_payments": [
            {"SK_ID_PREV": 9, "NUM_INSTALMENT_VERSION": 1, "NUM_INSTALMENT_NUMBER": 1,
             "DAYS_INSTALMENT": -100, "DAYS_ENTRY_PAYMENT": -90, "AMT_INSTALMENT": 100.0,
             "AMT_PAYMENT": 100.0},
            {"SK_ID_PREV": 9, "NUM_INSTALMENT_VERSION": 1, "NUM_INSTALMENT_NUMBER": 2,
             "DAYS_INSTALMENT": -70, "DAYS_ENTRY_PAYMENT": -75, "AMT_INSTALMENT": 100.0,
             "AMT_PAYMENT": 100.0},
        ],
    }  # fmt: skip
    decision = DecisionFactory(application__created_by=officer, application__history=history)
    response = login(client, officer).get(
        reverse("applicants:detail", args=[decision.application_id])
    )
    summary = response.context["history_summary"]
    assert (summary.bureau_credits, summary.bureau_active, summary.bureau_closed) == (2, 1, 1)
    assert summary.bureau_overdue_amount == 1500.0 and summary.bureau_max_days_overdue == 40
    assert (summary.previous_applications, summary.previous_refused) == (1, 1)
    assert (summary.instalments, summary.late_instalments) == (2, 1)
    assert "Sent with the application" in response.content.decode()


def test_without_history_the_page_says_the_decision_rests_on_the_application(
    client, officer, referred
) -> None:
    html = login(client, officer).get(reverse("applicants:detail", args=[referred.application_id]))
    assert "No credit history is known for this applicant" in html.content.decode()


def test_the_application_audit_history_is_shown(client, officer, referred) -> None:
    from audits import trail

    trail.record(
        action=AuditAction.APPLICATION_SUBMITTED, actor=officer, target=referred.application
    )
    trail.record(action=AuditAction.LOGIN, actor=officer)  # not about this application
    html = login(client, officer).get(reverse("applicants:detail", args=[referred.application_id]))
    events = html.context["audit_events"]
    assert [e.action for e in events] == [AuditAction.APPLICATION_SUBMITTED]
    assert "Application submitted" in html.content.decode()


# --- manual review ------------------------------------------------------------------------------


def test_a_reviewer_overrides_from_the_page_and_both_names_are_shown(
    client, officer, reviewer, referred
) -> None:
    client = login(client, reviewer)
    url = reverse("applicants:detail", args=[referred.application_id])
    queue = client.get(reverse("applicants:review")).content.decode()
    assert "Jana Novak" in queue and "<td>officer</td>" in queue
    assert "Record my decision" in client.get(url).content.decode()

    response = client.post(
        reverse("applicants:override", args=[referred.application_id]),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
    )
    assert response.status_code == 302 and response["Location"] == url + "#review"
    html = client.get(url).content.decode()
    assert 'id="model-outcome">Refer<' in html
    assert 'id="override-outcome">Approve<' in html
    assert '<strong id="submitted-by">officer</strong>' in html
    assert '<strong id="reviewed-by">reviewer</strong>' in html
    assert JUSTIFICATION in html
    assert "Record my decision" not in html
    assert "Decision overridden" in html
    assert "Nothing to review" in client.get(reverse("applicants:review")).content.decode()


def test_a_self_override_from_the_page_is_refused_with_the_rule(client, officer, referred):
    officer.groups.add(Group.objects.get(name="credit_reviewer"))  # an officer granted review
    client = login(client, officer)
    url = reverse("applicants:detail", args=[referred.application_id])
    html = client.get(url).content.decode()
    assert "Record my decision" not in html and 'id="review-refusal"' in html
    assert "a second person must decide (four eyes)" in html
    assert "Jana Novak" not in client.get(reverse("applicants:review")).content.decode()
    response = client.post(
        reverse("applicants:override", args=[referred.application_id]),
        {"outcome": "APPROVE", "justification": JUSTIFICATION},
    )
    assert response.status_code == 403
    assert "You submitted or last changed application" in response.content.decode()
    assert not DecisionOverride.objects.exists()
    refused = AuditEvent.objects.get(action=AuditAction.DECISION_OVERRIDE_REFUSED)
    assert refused.actor == officer and refused.payload["reason"] == "own_application"


def test_reject_to_approve_by_a_non_senior_reviewer_is_refused_on_the_page(
    client, officer, reviewer, senior_reviewer
) -> None:
    rejected = DecisionFactory(application__created_by=officer, outcome="REJECT",
                               probability_of_default=0.18)  # fmt: skip
    url = reverse("applicants:detail", args=[rejected.application_id])
    override_url = reverse("applicants:override", args=[rejected.application_id])
    body = {"outcome": "APPROVE", "justification": JUSTIFICATION}
    page = login(client, reviewer).get(url).content.decode()
    assert "needs a senior credit reviewer: it turns the model" in page
    response = client.post(override_url, body)
    assert (
        response.status_code == 403
        and "needs a senior credit reviewer" in response.content.decode()
    )
    assert not DecisionOverride.objects.exists()

    senior = login(client, senior_reviewer)
    page = senior.get(url).content.decode()
    assert "approve it on appeal" in page and 'value="REJECT"' not in page
    assert senior.post(override_url, body).status_code == 302
    override = DecisionOverride.objects.get()
    assert (override.reviewer, override.decision.application.created_by) == (
        senior_reviewer, officer,
    )  # fmt: skip


def test_override_without_justification_is_refused_and_keeps_the_choice(
    client, reviewer, referred
) -> None:
    response = login(client, reviewer).post(
        reverse("applicants:override", args=[referred.application_id]),
        {"outcome": "REJECT", "justification": ""},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Write why you decide this way" in html
    assert re.search(r'value="REJECT"[^>]*checked', html)
    assert not DecisionOverride.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DECISION_OVERRIDDEN).exists()


def test_an_approved_decision_offers_no_override(client, officer, reviewer) -> None:
    decision = DecisionFactory(application__created_by=officer, outcome="APPROVE")
    client = login(client, reviewer)
    html = client.get(reverse("applicants:detail", args=[decision.application_id])).content.decode()
    assert "Record my decision" not in html
    response = client.post(
        reverse("applicants:override", args=[decision.application_id]),
        {"outcome": "REJECT", "justification": JUSTIFICATION},
    )
    assert response.status_code == 409
    assert "is not awaiting review: the policy approved it" in response.content.decode()


def test_compliance_reads_the_override_report(client, officer, reviewer, compliance, referred):
    from applicants.services.review import decision_override_record

    decision_override_record(
        decision=referred, outcome="REJECT", justification=JUSTIFICATION, reviewer=reviewer
    )
    html = login(client, compliance).get(reverse("applicants:override_report")).content.decode()
    assert "Overrides by officer" in html
    row = re.search(r"<strong>officer</strong></td>(.*?)</tr>", html, re.S).group(1)
    cells = re.findall(r'<td class="num" data-label="[^"]*">([^<]*)</td>', row)
    assert cells == ["1", "1", "100.0%", "0", "1", "0", "0", "0"]


# --- the list and the dashboard -----------------------------------------------------------------


def test_list_search_filters_and_rows(client, officer, other_officer) -> None:
    jana = DecisionFactory(
        application__created_by=officer,
        application__applicant__full_name="Jana Novak",
        outcome="REFER",
        probability_of_default=0.1234,
        risk_band="MEDIUM",
    )
    DecisionFactory(
        application__created_by=officer,
        application__applicant__full_name="Petr Svoboda",
        outcome="APPROVE",
    )
    LoanApplicationFactory(created_by=officer, applicant__full_name="Eva Kral")
    DecisionFactory(application__created_by=other_officer, application__applicant__full_name="X Y")
    client = login(client, officer)

    html = client.get(reverse("applicants:list")).content.decode()
    assert html.index("Eva Kral") < html.index("Petr Svoboda") < html.index("Jana Novak")
    assert "X Y" not in html
    assert "12.3%" in html and "Medium" in html

    assert _names(client, search="novak") == ["Jana Novak"]
    assert _names(client, search=str(jana.application_id)) == ["Jana Novak"]
    assert _names(client, outcome="APPROVE") == ["Petr Svoboda"]
    assert _names(client, status="SUBMITTED") == ["Eva Kral"]
    empty = client.get(reverse("applicants:list"), {"search": "nobody"}).content.decode()
    assert "No applications match these filters" in empty


def _names(client, **params) -> list[str]:
    response = client.get(reverse("applicants:list"), params)
    return [a.applicant.full_name for a in response.context["applications"]]


def test_list_is_paginated(client, officer) -> None:
    LoanApplicationFactory.create_batch(applicant_views.PAGE_SIZE + 3, created_by=officer)
    client = login(client, officer)
    first = client.get(reverse("applicants:list"))
    assert len(first.context["applications"]) == applicant_views.PAGE_SIZE
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(reverse("applicants:list"), {"page": 2})
    assert len(second.context["applications"]) == 3


def test_compliance_reads_every_officers_applications(client, compliance, referred) -> None:
    html = login(client, compliance).get(reverse("applicants:list")).content.decode()
    assert "All applications" in html and "Jana Novak" in html and "officer" in html


def test_officer_dashboard_counts_and_a_reviewers_queue(client, officer, reviewer) -> None:
    DecisionFactory.create_batch(2, application__created_by=officer, outcome="REFER")
    DecisionFactory(application__created_by=officer, outcome="APPROVE")
    LoanApplicationFactory(created_by=officer)
    officers = login(client, officer).get(reverse("dashboard")).context["applications"]
    assert officers["total"] == 4 and officers["review_queue"] is None  # officers do not review
    response = login(client, reviewer).get(reverse("dashboard"))
    panel = response.context["applications"]
    assert panel["total"] == 4 and panel["review_queue"] == 2
    assert {i["value"]: i["count"] for i in panel["by_outcome"]} == {
        "APPROVE": 1,
        "REFER": 2,
        "REJECT": 0,
    }
    assert {i["value"]: i["count"] for i in panel["by_status"]}["SUBMITTED"] == 1
    html = response.content.decode()
    assert re.search(r'id="stat-review"><span class="n">2</span>', html)


@pytest.mark.parametrize(("persona", "panel"), [("compliance", True), ("model_admin", False)])
def test_other_roles_see_their_areas_on_the_dashboard(client, request, persona, panel) -> None:
    response = login(client, request.getfixturevalue(persona)).get(reverse("dashboard"))
    assert (response.context["applications"] is not None) is panel
    html = response.content.decode()
    area = "Audit trail" if persona == "compliance" else "Models"
    assert f"<h2>{area}</h2>" in html
    assert "waiting for your review" not in html
