"""Compliance investigates in a real browser: filter the trail to one application, open an
event's payload, export the CSV, run "Verify chain" and read the verdict on the dashboard."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from audits import trail
from audits.actions import AuditAction
from scoring.decide import decided_payload
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.factories import DecisionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def two_applications(officer):
    """Two decided applications with their trail, the first one REJECTed."""
    decisions = [
        DecisionFactory(application__created_by=officer, outcome=outcome, probability_of_default=pd)
        for outcome, pd in (("REJECT", 0.41), ("APPROVE", 0.03))
    ]
    for decision in decisions:
        application = decision.application
        trail.record(action=AuditAction.APPLICATION_SUBMITTED, actor=officer, target=application,
                     payload={"before": None, "after": {"status": "SUBMITTED"}})  # fmt: skip
        trail.record(action=AuditAction.APPLICATION_DECIDED, target=application,
                     payload=decided_payload(decision, task_id="e2e"))  # fmt: skip
    return [d.application for d in decisions]


def test_compliance_investigates_one_application_and_verifies_the_chain(
    new_page, compliance, two_applications
) -> None:
    wanted, other = two_applications
    page = new_page()
    sign_in(page, "compliance")
    page.click("nav.mainnav >> text=Audit trail")
    page.select_option("#id_target_type", "applicants.loanapplication")
    page.fill("#id_target_id", str(wanted.pk))
    page.click("form.filters >> text=Apply")
    page.wait_for_url(f"**target_id={wanted.pk}**")

    body = page.inner_text("table.trail tbody")
    assert f"Application #{wanted.pk}" in body and f"Application #{other.pk}" not in body
    assert page.locator("table.trail tbody tr").count() == 2
    link = page.locator(f"table.trail a:text-is('Application #{wanted.pk}')").first
    assert link.get_attribute("href") == f"/applications/{wanted.pk}/"

    decided = page.locator("table.trail tbody tr", has_text="Application decided")
    details = decided.locator("details.payload")
    assert not details.locator("dl.facts").is_visible()
    details.locator("summary").click()
    facts = details.locator("dl.facts")
    assert facts.is_visible()
    assert "REJECT" in facts.inner_text() and "41.0%" in facts.inner_text()
    assert "CREDIT_TO_INCOME" in facts.inner_text()
    screenshot(page, "audit-trail-laptop")

    with page.expect_download() as download:
        page.click("text=Export CSV")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.DictReader(io.StringIO(text)))
    labels = [row["action_label"] for row in table]
    assert labels == ["Application decided", "Application submitted"]
    assert {row["target"] for row in table} == {f"Application #{wanted.pk}"}

    page.click("text=Verify chain")
    page.wait_for_selector("text=Chain verification started")
    page.click("nav.mainnav >> text=Dashboard")
    panel = page.locator("section.verification")
    assert "Intact" in panel.inner_text()
    # sign-in, four events, the export and the verification request
    assert "7 events; no checkpoint yet." in panel.inner_text()
    assert "by compliance" in panel.inner_text()
    screenshot(page, "audit-dashboard-laptop")


def test_the_trail_reads_on_a_phone(new_page, compliance, two_applications) -> None:
    page = new_page(PHONE)
    sign_in(page, "compliance")
    page.goto("/audit/")
    page.locator("details.payload summary").first.click()
    # Nothing but the table scrolls sideways: the page itself fits the phone.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "audit-trail-phone")
    page.click("text=Verify chain")
    page.goto("/")
    assert "Intact" in page.inner_text("section.verification")
    screenshot(page, "audit-dashboard-phone")
