"""Issue 17's acceptance in a browser: an officer accepts a counteroffer on a referred or
rejected application's page and lands on the new, linked application, approved; the first
application's page links to it. The card fits a phone; screenshots at 390 and 1366 px."""

from __future__ import annotations

import re

import pytest

from applicants.models import LoanApplication
from tests.applicants.test_counteroffer_accept import BASE, VARIANTS, _submit
from tests.e2e.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.e2e.test_phone import OVERFLOW

#: test_phone's check, except inside `.table-wrap`: the audit history's table scrolls
#: sideways within its own box on purpose (overflow-x: auto), never the page.
OVERFLOW_OUTSIDE_SCROLLERS = OVERFLOW.replace(
    "if (el.closest('thead, .visually-hidden')) continue;",
    "if (el.closest('thead, .visually-hidden, .table-wrap')) continue;",
)
assert OVERFLOW_OUTSIDE_SCROLLERS != OVERFLOW

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def offered(officer, trained_model) -> LoanApplication:
    for variant in VARIANTS:
        application = _submit(officer, {**BASE, **variant})
        decision = application.decision
        if decision.outcome != "APPROVE" and decision.counteroffer["offer"] is not None:
            return application
    pytest.fail("no variant was refused with a counteroffer by the test model")


def test_an_officer_accepts_a_counteroffer_and_sees_the_linked_approved_application(
    new_page, officer, offered
) -> None:
    offer = offered.decision.counteroffer["offer"]
    phone = new_page(PHONE)
    sign_in(phone, officer.username)
    phone.goto(f"/applications/{offered.pk}/")
    card = phone.locator("#counteroffer")
    lead = phone.locator("#counteroffer-lead").inner_text()
    assert lead.startswith("The policy would approve")
    assert f"{offer['term_months']:g} months" in lead
    overflow = phone.evaluate(OVERFLOW_OUTSIDE_SCROLLERS)
    assert overflow["bad"] == [] and overflow["scroll"] <= PHONE["width"], overflow
    card.scroll_into_view_if_needed()
    screenshot(phone, "phone-counteroffer-offered")

    laptop = new_page(LAPTOP)
    sign_in(laptop, officer.username)
    laptop.goto(f"/applications/{offered.pk}/")
    screenshot(laptop, "laptop-counteroffer-offered")
    laptop.click("#accept-counteroffer")
    laptop.wait_for_url(re.compile(r"/applications/\d+/$"))
    accepted = LoanApplication.objects.get(counteroffer_of=offered)
    assert laptop.url.endswith(f"/applications/{accepted.pk}/")
    assert laptop.locator("#model-outcome").inner_text().strip() == "Approve"
    assert f"application #{offered.pk}" in laptop.locator("#counteroffer-of").inner_text()
    assert "Counteroffer accepted" in laptop.locator(".messages").inner_text()
    screenshot(laptop, "laptop-counteroffer-accepted")

    # A second click (a resent form) makes no second application.
    laptop.goto(f"/applications/{offered.pk}/")
    assert laptop.locator("#accept-counteroffer").count() == 0
    screenshot(laptop, "laptop-counteroffer-original-after")
    link = laptop.locator("#counteroffer-accepted a")
    assert link.inner_text() == f"application #{accepted.pk}"
    link.click()
    laptop.wait_for_url(f"**/applications/{accepted.pk}/")
    assert LoanApplication.objects.filter(counteroffer_of=offered).count() == 1

    phone.goto(f"/applications/{accepted.pk}/")
    assert phone.locator("#counteroffer-of").is_visible()
    overflow = phone.evaluate(OVERFLOW_OUTSIDE_SCROLLERS)
    assert overflow["bad"] == [] and overflow["scroll"] <= PHONE["width"], overflow
    screenshot(phone, "phone-counteroffer-accepted")
