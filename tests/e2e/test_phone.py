"""Every officer page on a phone (390 px): nothing overflows the viewport, every navigation
item is in view, each list shows its outcome with the name first; screenshots at both widths."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from scoring.models import BatchJob
from tests.e2e.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LONG_NAME = "Anna-Katharina Prochazkova-Dvorakova"

# Elements whose right or left edge leaves the viewport, other than those inside a container
# that scrolls on purpose (none on a list page) or visually hidden ones (clip); with every
# <details> opened.
OVERFLOW = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (style.clip === 'rect(0px, 0px, 0px, 0px)') continue;
    if (el.closest('thead, .visually-hidden')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5) {
      bad.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' +
               el.className + ' [' + Math.round(r.left) + ',' + Math.round(r.right) + ']');
    }
  }
  return {bad: bad.slice(0, 10), scroll: document.documentElement.scrollWidth, width: width};
}"""

# Per list row: the outcome cell's text and where the name, outcome and every other cell sit.
ROWS = """(table) => [...document.querySelectorAll(table + ' tbody tr')].map(tr => {
  const top = el => el.getBoundingClientRect().top;
  const outcome = tr.querySelector('[data-outcome]');
  const name = tr.querySelector('.c-name');
  const first = '.c-name, [data-outcome], .c-pd, .c-band';
  const others = [...tr.children].filter(td => !td.matches(first));
  return {
    outcome: outcome ? outcome.innerText.trim() : null,
    outcomeVisible: !!outcome && outcome.getBoundingClientRect().right <= window.innerWidth,
    name: name ? name.innerText.trim() : null,
    firstRow: name && outcome ? Math.max(top(name), top(outcome)) : null,
    othersTop: Math.min(...others.filter(td => td.innerText.trim()).map(top)),
  };
})"""


@pytest.fixture
def officer_day(officer):
    """Decided applications across outcomes (one with a long name), a finished batch."""
    for index, (outcome, band, pd) in enumerate(
        [("APPROVE", "LOW", 0.04), ("REFER", "MEDIUM", 0.12), ("REJECT", "VERY_HIGH", 0.41)]
    ):
        DecisionFactory(
            application__created_by=officer,
            application__applicant__full_name=LONG_NAME if index == 1 else f"Jan Novak {index}",
            outcome=outcome,
            risk_band=band,
            probability_of_default=pd,
        )
    batch = BatchJob.objects.create(
        created_by=officer,
        filename="march-applications-from-the-branch-office.csv",
        status=BatchJob.Status.DONE,
        total_rows=3,
        invalid_rows=1,
        row_errors={"2": {"AMT_CREDIT": "must be a number (got 'lots')"}},
        finished_at=timezone.now(),
    )
    for row, (outcome, pd) in zip((1, 3), (("APPROVE", 0.05), ("REJECT", 0.33)), strict=True):
        DecisionFactory(
            application=LoanApplicationFactory(
                created_by=officer,
                status="DECIDED",
                batch=batch,
                batch_row=row,
                applicant__full_name=f"Batch Person {row}",
            ),
            outcome=outcome,
            probability_of_default=pd,
            risk_band="LOW" if outcome == "APPROVE" else "HIGH",
        )
    referred = officer.loan_applications.get(applicant__full_name=LONG_NAME)
    # The referred one has a counteroffer (issue 17): its card must fit a phone too.
    decision = referred.decision
    decision.counteroffer = {
        "offer": {"AMT_CREDIT": 500_000.0, "AMT_ANNUITY": 13_888.89, "AMT_GOODS_PRICE": None,
                  "term_months": 36.0, "probability_of_default": 0.0734, "outcome": "APPROVE",
                  "kind": "longer_term"},
        "reason": "the requested amount over a longer term",
        "model_version": decision.model_version.version,
        "policy_version": decision.policy.version,
        "candidates": 21,
    }  # fmt: skip
    decision.save(update_fields=["counteroffer"])
    return {"batch": batch, "referred": referred}


def pages(day) -> list[tuple[str, str, str | None]]:
    """(name, path, list table selector or None) for every officer page."""
    return [
        ("dashboard", "/", None),
        ("applications", "/applications/", "#applications-table"),
        ("application-new", "/applications/new/", None),
        ("application-detail", f"/applications/{day['referred'].pk}/", None),
        ("batches", "/batches/", "#batches-table"),
        ("batch-new", "/batches/new/", None),
        ("batch-detail", f"/batches/{day['batch'].pk}/", "#batch-applications-table"),
        ("not-found", "/applications/999999/", None),
    ]


def signed_in_pair(new_page, username: str) -> tuple:
    phone, laptop = new_page(PHONE), new_page(LAPTOP)
    sign_in(phone, username)
    sign_in(laptop, username)
    return phone, laptop


def check_page(pair: tuple, name: str, path: str, table: str | None) -> None:
    """At 390 px: nothing past the viewport, every menu item in view, each list row with its
    name and outcome first; then screenshots at 390 and 1366 px."""
    phone, laptop = pair
    phone.goto(path)
    phone.wait_for_load_state("networkidle")
    overflow = phone.evaluate(OVERFLOW)
    assert overflow["bad"] == [], f"{name}: past the viewport: {overflow['bad']}"
    assert overflow["scroll"] <= PHONE["width"], f"{name}: the page scrolls sideways"

    # Every navigation item is in view: the menu wraps rather than hiding items.
    for box in phone.locator("nav.mainnav a").all():
        rect = box.bounding_box()
        assert rect and rect["x"] >= 0 and rect["x"] + rect["width"] <= PHONE["width"], name

    if table:
        rows = phone.evaluate(ROWS, table)
        assert rows, f"{name}: the list is empty"
        for row in rows:
            assert row["outcome"], f"{name}: a row without its outcome"
            assert row["outcomeVisible"], f"{name}: the outcome is off-screen"
            assert row["name"], f"{name}: a row without a name"
            assert row["firstRow"] <= row["othersTop"], f"{name}: name/outcome not first"
    screenshot(phone, f"phone-{name}")
    laptop.goto(path)
    laptop.wait_for_load_state("networkidle")
    screenshot(laptop, f"laptop-{name}")


def test_every_officer_page_fits_a_phone_and_lists_show_outcomes_first(
    new_page, officer, reviewer, officer_day
) -> None:
    pair = signed_in_pair(new_page, "officer")
    for name, path, table in pages(officer_day):
        check_page(pair, name, path, table)

    # The review queue belongs to credit reviewers (four eyes): checked as one.
    check_page(signed_in_pair(new_page, "reviewer"), "review", "/review/", "#review-table")

    phone = pair[0]
    phone.goto("/applications/")
    names = phone.locator("#applications-table .c-name").all_inner_texts()
    assert any(LONG_NAME in text for text in names)
    outcomes = phone.locator("#applications-table [data-outcome]").all_inner_texts()
    # Three single applications and the batch's two decided rows, each with its outcome.
    assert sorted(o.strip() for o in outcomes) == [
        "Approve",
        "Approve",
        "Refer",
        "Reject",
        "Reject",
    ]


def test_chart_labels_sit_above_their_bars_on_a_phone(new_page, officer, officer_day) -> None:
    page = new_page(PHONE)
    sign_in(page, "officer")
    page.goto(f"/applications/{officer_day['referred'].pk}/")
    page.wait_for_function("() => window.Chart && Chart.getChart('contributions-chart')")
    chart = page.evaluate(
        """() => {
            const chart = Chart.getChart('contributions-chart');
            const source = JSON.parse(document.getElementById('contributions-data').textContent);
            const bars = chart.getDatasetMeta(0).data.map(b => ({y: b.y, h: b.height}));
            return {
              yTicks: chart.options.scales.y.ticks.display,
              plugins: chart.config.plugins.map(p => p.id),
              labels: chart.data.labels, source: source.labels, bars: bars,
              left: chart.chartArea.left, width: chart.width,
            };
        }"""
    )
    assert chart["yTicks"] is False  # no axis squeezing labels into stubs
    assert chart["plugins"] == ["labelsAbove"]
    assert chart["labels"] == chart["source"]  # whole labels, not cut ones
    assert chart["left"] < 40  # the bars get the width the axis labels took
    # Each bar leaves room above it for its label's line (12 px type).
    gaps = [
        b["y"] - b["h"] / 2 - (a["y"] + a["h"] / 2) for a, b in itertools.pairwise(chart["bars"])
    ]
    assert min(gaps) >= 16

    laptop = new_page(LAPTOP)
    sign_in(laptop, "officer")
    laptop.goto(f"/applications/{officer_day['referred'].pk}/")
    laptop.wait_for_function("() => window.Chart && Chart.getChart('contributions-chart')")
    assert laptop.evaluate(
        "() => Chart.getChart('contributions-chart').options.scales.y.ticks.display"
    )
