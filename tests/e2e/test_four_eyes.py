"""Four eyes in a real browser: a reviewer's queue across officers, a senior's approval of a
model rejection, an officer refused on their own application, compliance's override report."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from scoring.models import DecisionOverride
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.factories import DecisionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
JUSTIFICATION = "Appeal: new employment contract and a guarantor; both verified by phone."


@pytest.fixture
def cases(officer, other_officer):
    referred = DecisionFactory(
        application__created_by=officer,
        application__applicant__full_name="Jana Novak",
        outcome="REFER",
    )
    rejected = DecisionFactory(
        application__created_by=other_officer,
        application__applicant__full_name="Petr Svoboda",
        outcome="REJECT",
        probability_of_default=0.16,
    )
    return referred, rejected


def test_reviewers_decide_others_applications_and_the_rules_are_shown(
    new_page, officer, reviewer, senior_reviewer, compliance, cases
) -> None:
    referred, rejected = cases
    officer.groups.add(Group.objects.get(name="credit_reviewer"))  # an officer granted review

    own = new_page(PHONE)
    sign_in(own, "officer")
    own.goto(f"/applications/{referred.application_id}/")
    assert "a second person must decide (four eyes)" in own.inner_text("#review-refusal")
    screenshot(own, "review-refused-phone")

    page = new_page()
    sign_in(page, "reviewer")
    page.click("nav.mainnav >> text=Review")
    assert "Jana Novak" in page.inner_text("table") and "officer" in page.inner_text("table")
    screenshot(page, "review-queue-laptop")
    page.goto(f"/applications/{rejected.application_id}/")
    assert "needs a senior credit reviewer" in page.inner_text("#review-refusal")

    senior = new_page(PHONE)
    sign_in(senior, "senior")
    senior.goto(f"/applications/{rejected.application_id}/")
    assert "approve it on appeal" in senior.inner_text("#review")
    senior.check("input[name=outcome][value=APPROVE]")
    senior.fill("#id_justification", JUSTIFICATION)
    senior.click("text=Record my decision")
    senior.wait_for_selector("#override-outcome")
    assert senior.inner_text("#submitted-by") == "other_officer"
    assert senior.inner_text("#reviewed-by") == "senior"
    screenshot(senior, "review-senior-approved-phone")
    assert DecisionOverride.objects.get().reviewer == senior_reviewer

    report = new_page()
    sign_in(report, "compliance")
    report.click("nav.mainnav >> text=Overrides")
    row = report.locator("#override-report tr", has_text="other_officer").inner_text()
    assert re.search(r"other_officer\s+1\s+1\s+100\.0%\s+0\s+0\s+1", row)
    screenshot(report, "override-report-laptop")
    phone = new_page(PHONE)
    sign_in(phone, "compliance")
    phone.goto("/review/report/")
    screenshot(phone, "override-report-phone")
    queue = new_page(PHONE)
    sign_in(queue, "reviewer")
    queue.goto("/review/")
    screenshot(queue, "review-queue-phone")
