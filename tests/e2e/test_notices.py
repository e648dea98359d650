"""The adverse-action notice in a real browser: linked from a declined application, print-ready
on a laptop and a phone (issue 11)."""

from __future__ import annotations

import pytest

from tests.applicants.test_notices import REASONS
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_declined_applications_notice_is_one_click_away_and_reads_well(new_page, officer):
    application = LoanApplicationFactory(created_by=officer, status="DECIDED")
    application.applicant.full_name = "Jana Novak"
    application.applicant.save()
    DecisionFactory(application=application, outcome="REJECT", reasons=REASONS)
    page = new_page()
    sign_in(page, "officer")
    page.goto(f"/applications/{application.pk}/")
    with page.expect_popup() as popup:
        page.click("#notice-links >> text=print")
    notice = popup.value
    notice.wait_for_load_state()
    assert notice.inner_text("h1") == "Notice of action taken on your credit application"
    items = notice.locator("#notice-reasons li").all_inner_texts()
    assert [item.splitlines()[0] for item in items] == [r["text"] for r in REASONS]
    screenshot(notice, "notice-laptop")

    phone = new_page(PHONE)
    sign_in(phone, "officer")
    phone.goto(f"/applications/{application.pk}/adverse-action-notice/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the notice must not scroll sideways on a phone"
    screenshot(phone, "notice-phone")
