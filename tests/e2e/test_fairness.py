"""Compliance runs a fair-lending audit in a real browser: charts, verdicts, overrides,
outcomes, the PDF, and the sign-off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audits.models import FairnessAudit
from tests.audits.fairness_support import Cohort, make_decisions
from tests.e2e.conftest import PHONE, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def seed(officer) -> None:
    """Women approved at 60%, men at 40%; young and old, married and single; overrides both
    ways; outcomes recorded; and a small group of 12 unstated."""
    make_decisions(
        officer=officer,
        cohorts=[
            Cohort(
                90,
                54,
                gender="F",
                days_birth=-30 * 365,
                family_status="Married",
                referred=20,
                overridden_up=8,
                overridden_down=2,
                record_outcomes=True,
                defaulted=range(54, 90, 4),
            ),
            Cohort(
                90,
                36,
                gender="M",
                days_birth=-50 * 365,
                family_status="Single / not married",
                referred=20,
                overridden_up=2,
                overridden_down=9,
                record_outcomes=True,
                defaulted=range(36, 90, 3),
            ),
            Cohort(
                40,
                22,
                gender="F",
                days_birth=-64 * 365,
                family_status="Widow",
                referred=6,
                overridden_up=1,
                record_outcomes=True,
                defaulted=(30, 31, 35),
            ),
            Cohort(12, 5, gender="XNA", days_birth=-22 * 365, family_status="Civil marriage"),
        ],
    )


def test_compliance_audits_all_decisions_downloads_the_pdf_and_signs_off(
    new_page, officer, compliance
) -> None:
    seed(officer)
    page = new_page()
    sign_in(page, "compliance")
    assert page.inner_text("#fairness-tile").count("No fairness audit yet") == 1
    page.click("nav.mainnav >> text=Fairness")
    page.wait_for_url("**/compliance/fairness/")
    assert "No audits yet" in page.inner_text("main")
    page.click("text=New audit")
    page.fill("#id_date_from", "2000-01-01")  # all decisions
    screenshot(page, "fairness-new-laptop")
    page.click("text=Run the audit")
    page.wait_for_url(re.compile(r"/compliance/fairness/\d+/$"))
    page.wait_for_selector("#audit-summary")

    audit = FairnessAudit.objects.get()
    assert audit.status == "done" and audit.snapshot["figures"]["totals"]["decisions"] == 232
    summary = page.inner_text("#audit-summary")
    assert summary.startswith("232 decisions were audited")
    # Gender: men approved at about 0.67 of women's rate, significant -> fail.
    assert page.get_attribute("#attribute-CODE_GENDER [data-verdict]", "data-verdict") == "fail"
    gender = page.inner_text("#attribute-CODE_GENDER")
    assert "Fail" in gender and "reference" in gender and "small sample" in gender
    for name in ("CODE_GENDER", "AGE_BAND", "NAME_FAMILY_STATUS"):
        bars = page.evaluate(
            f"() => Chart.getChart(document.getElementById('chart-{name}')).data.datasets[0].data"
        )
        assert bars and all(0 <= value <= 100 for value in bars)
    assert "Overrides" in gender and "Outcomes" in gender
    assert page.locator("#attribute-CODE_GENDER .overrides-table tbody tr").count() == 3
    assert page.locator("#attribute-CODE_GENDER .outcomes-table").first.is_visible()
    screenshot(page, "fairness-audit-laptop")

    with page.expect_download() as pdf:
        page.click("#download-pdf")
    content = Path(pdf.value.path()).read_bytes()
    assert content.startswith(b"%PDF")
    assert content.count(b"/Subtype /Image") >= 3  # one chart per attribute

    page.fill("#id_comment", "Gender disparity escalated to the credit committee.")
    page.click("#sign-off-button")
    page.wait_for_selector("#signed-off")
    assert "Signed off by compliance" in page.inner_text("#sign-off")
    assert page.locator("#sign-off-button").count() == 0
    audit.refresh_from_db()
    assert audit.signed_off_by == compliance

    page.goto("/")
    tile = page.inner_text("#fairness-tile")
    assert f"Latest audit #{audit.pk}" in tile and "Fail" in tile and "signed off" in tile
    screenshot(page, "fairness-dashboard-laptop")
    page.goto("/compliance/fairness/")
    assert "Fail" in page.inner_text("#fairness-audits")
    screenshot(page, "fairness-list-laptop")

    phone = new_page(PHONE)
    sign_in(phone, "compliance")
    phone.goto(f"/compliance/fairness/{audit.pk}/")
    phone.wait_for_selector("#audit-summary")
    phone.wait_for_function("() => Chart.getChart(document.getElementById('chart-AGE_BAND'))")
    screenshot(phone, "fairness-audit-phone")
    phone.goto("/compliance/fairness/")
    screenshot(phone, "fairness-list-phone")
    phone.goto("/compliance/fairness/new/")
    screenshot(phone, "fairness-new-phone")
    phone.goto("/")
    screenshot(phone, "fairness-dashboard-phone")
