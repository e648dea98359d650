"""An officer's day in a real browser: submit, read the decision, review a referral."""

from __future__ import annotations

import math
import re

import pytest

from applicants.models import LoanApplication
from scoring import registry
from scoring.ml.features.families import BY_CODE, family_label
from scoring.models import Decision
from scoring.policy import policy_create
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.factories import DecisionFactory, LoanApplicationFactory, minimal_application

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

APPLICANT = {
    "#id_full_name": "Jana Novak",
    "#id_birth_date": "1986-04-12",
    "#id_credit": "450000",
    "#id_annuity": "24750",
    "#id_goods_price": "405000",
    "#id_income": "202500",
    "#id_employed_since": "2018-09-01",
    "#id_children": "1",
    "#id_family_members": "3",
    "#id_ext_source_2": "0.62",
    "#id_ext_source_3": "0.51",
    # Asked for because the active (`test`) model requires it.
    "#id_days_last_phone_change": "2024-03-01",
}
SELECTS = {
    "#id_gender": "F",
    "#id_contract_type": "Cash loans",
    "#id_income_type": "Working",
    "#id_occupation": "Accountants",
    "#id_organization": "Bank",
    "#id_education": "Higher education",
    "#id_family_status": "Married",
    "#id_housing": "House / apartment",
    "#id_owns_realty": "Y",
    "#id_region": "0.010006",  # "1.001% of the population (128 training applicants)"
    "#id_region_rating_client_w_city": "2",
    "#id_flag_document_3": "1",
}


HISTORY_CODES = ("INSTALMENT", "CARD", "POS_", "BUREAU", "PREVIOUS", "TOTAL_DEBT")


def fill_application(page, **changes: str) -> None:
    page.goto("/applications/new/")
    # The fields the active model's contract adds are there only when a model is active.
    present = {s for s in [*APPLICANT, *changes, *SELECTS] if page.locator(s).count()}
    for selector, value in {**APPLICANT, **changes}.items():
        if selector in present:
            page.fill(selector, value)
    for selector, value in SELECTS.items():
        if selector in present:
            page.select_option(selector, value)


def wait_for_decision(page) -> None:
    """The page polls its status while scoring and reloads itself when the decision is in."""
    page.wait_for_selector("#model-outcome")


def test_officer_submits_an_application_and_reads_the_decision(
    new_page, officer, trained_model
) -> None:
    page = new_page()
    sign_in(page, "officer")
    page.click("nav.mainnav >> text=New application")
    fill_application(page)
    # The region is chosen from the model's training regions, in words, never typed as a ratio.
    region = page.locator("#id_region")
    assert region.evaluate("e => e.tagName") == "SELECT"
    assert region.locator("option:checked").inner_text().startswith("1.001% of the population")
    page.click("text=Submit for decision")

    page.wait_for_url(re.compile(r"/applications/\d+/$"))
    wait_for_decision(page)
    application = LoanApplication.objects.get(applicant__full_name="Jana Novak")
    assert application.application_row["REGION_POPULATION_RELATIVE"] == 0.010006
    decision = Decision.objects.get(application=application)
    assert page.inner_text("#model-outcome") == decision.get_outcome_display()
    assert page.inner_text("#pd-value") == f"{decision.probability_of_default * 100:.1f}%"
    assert page.is_visible("svg.gauge")

    bars = page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('contributions-chart'));
            return {values: chart.data.datasets[0].data, labels: chart.data.labels,
                    colours: chart.data.datasets[0].backgroundColor,
                    axis: chart.options.scales.x.title.text};
        }"""
    )
    # Families in the officer's words, in percentage points that add up to PD - base PD.
    known = {family_label(key) for key in {*(f.key for f in BY_CODE.values()),
                                          "not_provided", "no_history"}}  # fmt: skip
    assert 3 <= len(bars["values"]) <= 11
    assert all(label in known or label.endswith("other families") for label in bars["labels"])
    assert "percentage points" in bars["axis"]
    base_pd = 1 / (1 + math.exp(-decision.base_value))
    total = sum(bars["values"]) / 100
    assert abs(total - (decision.probability_of_default - base_pd)) < 1e-5
    assert set(bars["colours"]) <= {"#c0392b", "#1f6fb2"}

    # The raw per-feature SHAP values stay behind the details toggle.
    details = page.locator("#feature-details table")
    assert not details.is_visible()
    page.click("#feature-details summary")
    assert details.is_visible()
    raw = page.locator("#feature-details tbody tr").all_inner_texts()
    assert len(raw) >= 10 and any("External score 2" in row for row in raw)

    reasons = page.locator("#reasons li").all_inner_texts()
    assert reasons == [
        r["text"] + (f" — {r['detail']}" if r["detail"] else "") for r in decision.reasons
    ]
    # A web-form applicant has no history rows: no reason speaks of a history they lack.
    history_texts = {f.text for code, f in BY_CODE.items() if code.startswith(HISTORY_CODES)}
    assert not any(r["text"] in history_texts for r in decision.reasons)
    assert not any(text.split(" — ")[0] in history_texts for text in reasons)
    assert page.is_visible("text=Known credit history")
    assert decision.model_version.version in page.inner_text("body")
    assert "Application submitted" in page.inner_text("body")
    screenshot(page, "application-laptop")

    phone = new_page(PHONE)
    sign_in(phone, "officer")
    phone.goto(f"/applications/{application.pk}/")
    wait_for_decision(phone)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page must not scroll sideways on a phone"
    # The audit history is a card per event on a phone: nothing in it scrolls sideways.
    history = phone.locator("section[aria-labelledby=audit-title] .table-wrap")
    assert history.evaluate("wrap => wrap.scrollWidth <= wrap.clientWidth")
    phone.click("#feature-details summary")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the open details must not widen the page on a phone"
    screenshot(phone, "application-phone")


def test_a_bad_form_shows_field_errors_and_keeps_the_values(new_page, officer) -> None:
    page = new_page()
    sign_in(page, "officer")
    fill_application(page, **{"#id_credit": "-100", "#id_birth_date": "2015-06-01"})
    page.click("text=Submit for decision")

    page.wait_for_selector("#form-errors")
    assert "2 fields" in page.inner_text("#form-errors")
    assert "Enter an amount greater than 0." in page.inner_text("#field-credit .field-error")
    assert "between 18 and 100" in page.inner_text("#field-birth_date .field-error")
    assert page.input_value("#id_credit") == "-100"
    assert page.input_value("#id_birth_date") == "2015-06-01"
    assert page.input_value("#id_full_name") == "Jana Novak"
    assert page.input_value("#id_occupation") == "Accountants"
    assert page.input_value("#id_ext_source_2") == "0.62"
    assert not LoanApplication.objects.exists()
    screenshot(page, "application-form-errors")


def test_a_second_officer_gets_404_for_the_first_officers_application(
    new_page, officer, other_officer, trained_model
) -> None:
    first = new_page()
    sign_in(first, "officer")
    fill_application(first)
    first.click("text=Submit for decision")
    first.wait_for_url(re.compile(r"/applications/\d+/$"))
    url = first.url

    second = new_page()
    sign_in(second, "other_officer")
    response = second.goto(url)
    assert response.status == 404
    assert second.is_visible("text=Not found")
    assert "Jana Novak" not in second.inner_text("body")


def test_a_referred_application_is_overridden_by_a_second_person_and_shows_both(
    new_page, officer, reviewer, model_admin, trained_model, settings
) -> None:
    row = minimal_application(
        AMT_INCOME_TOTAL=135000.0,
        AMT_CREDIT=600000.0,
        AMT_ANNUITY=30000.0,
        DAYS_BIRTH=-11000,
        DAYS_EMPLOYED=-700,
        EXT_SOURCE_1=None,
        EXT_SOURCE_2=0.35,
        EXT_SOURCE_3=None,
    )
    # A policy whose referral band surrounds this applicant's probability of default, so the
    # real model's decision is a REFER (the policy is configuration; the model is not faked).
    pd = registry.score_record(application_row=row, history=None, external_id=None)
    pd = pd.probability_of_default
    policy_create(
        actor=model_admin,
        very_low_below=pd * 0.2,
        low_below=pd * 0.4,
        medium_below=pd * 0.8,
        high_below=min(0.99, max(pd * 1.5, pd * 0.8 + 0.001)),
        approve_below=pd * 0.5,
        reject_at_or_above=min(1.0, pd + (1 - pd) / 2),
        note="e2e: refer around one applicant",
    )
    from applicants.services.submit import application_submit

    application, _ = application_submit(
        actor=officer, channel="web", application_row=row, full_name="Petr Svoboda"
    )
    assert Decision.objects.get(application=application).outcome == "REFER"
    # An ordinary reviewer may decide it (the senior threshold is above this PD).
    settings.CREDSCOPE_SENIOR_OVERRIDE_PD = min(1.0, pd + 0.01)

    own = new_page()
    sign_in(own, "officer")
    own.goto(f"/applications/{application.pk}/")
    assert "awaiting a credit reviewer's decision" in own.inner_text("#review")
    assert not own.is_visible("text=Record my decision")

    page = new_page()
    sign_in(page, "reviewer")
    page.click("nav.mainnav >> text=Review")
    page.click("tr:has-text('Petr Svoboda') >> text=Review")
    page.wait_for_url(re.compile(rf"/applications/{application.pk}/"))
    page.check("input[name=outcome][value=APPROVE]")
    page.click("text=Record my decision")  # no justification yet
    assert "Write why you decide this way" in page.inner_text("#review")
    assert page.is_checked("input[name=outcome][value=APPROVE]")

    page.fill(
        "#id_justification", "Employer confirmed a permanent contract; savings cover 6 months."
    )
    page.click("text=Record my decision")
    page.wait_for_selector("#override-outcome")
    assert page.inner_text("#model-outcome") == "Refer"
    assert page.inner_text("#override-outcome") == "Approve"
    assert "savings cover 6 months" in page.inner_text("#override-record")
    assert page.inner_text("#submitted-by") == "officer"
    assert page.inner_text("#reviewed-by") == "reviewer"
    assert "Decision overridden" in page.inner_text("body")
    screenshot(page, "review-override-laptop")
    page.goto("/review/")
    assert page.is_visible("text=Nothing to review")


def test_the_page_follows_the_scoring_and_shows_the_decision_when_it_lands(
    new_page, officer
) -> None:
    application = LoanApplicationFactory(
        created_by=officer, status="SCORING", applicant__full_name="Eva Kral"
    )
    page = new_page()
    sign_in(page, "officer")
    page.goto(f"/applications/{application.pk}/")
    assert page.is_visible("text=Scoring in progress")
    assert page.inner_text("#application-status") == "Scoring"

    # The worker finishes: the page polls its status and reloads itself with the decision.
    DecisionFactory(application=application, outcome="APPROVE", probability_of_default=0.04)
    LoanApplication.objects.filter(pk=application.pk).update(status="DECIDED")
    page.wait_for_selector("#model-outcome")
    assert page.inner_text("#model-outcome") == "Approve"
    assert not page.is_visible("text=Scoring in progress")
