"""Model pages in a real browser: the charts, the activate button at every width, and a
promotion that needs a reason and shows the comparison first."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from scoring import registry
from scoring.models import ModelVersion
from tests.e2e.conftest import LAPTOP, PHONE, TIMEOUT_MS, screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CHARTS = ("roc-chart", "calibration-chart", "importance-chart", "auc-chart")


def candidate(trained_model) -> ModelVersion:
    return ModelVersion.objects.create(
        version="candidate-2",
        profile="test",
        bundle_path=trained_model.bundle_path,
        feature_count=trained_model.feature_count,
        metrics=trained_model.metrics,
        auc=trained_model.auc,
    )


def drawn(page, canvas_id: str) -> bool:
    """Chart.js drew on the canvas (it registers a chart object for it)."""
    return page.evaluate(
        "id => !!(window.Chart && window.Chart.getChart(document.getElementById(id)))", canvas_id
    )


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366", "390"])
def test_the_model_page_draws_its_charts(new_page, model_admin, trained_model, viewport) -> None:
    page = new_page(viewport)
    sign_in(page, "model_admin")
    page.goto(f"/models/{trained_model.version}/")
    for canvas in CHARTS:
        page.wait_for_function(
            "id => window.Chart && window.Chart.getChart(document.getElementById(id))", arg=canvas
        )
        assert drawn(page, canvas), canvas
        box = page.locator(f"#{canvas}").bounding_box()
        assert box["width"] > 200 and box["height"] > 150
        assert box["x"] + box["width"] <= viewport["width"]
    matrix = page.locator("#confusion-matrix")
    assert matrix.is_visible() and "Defaulted" in matrix.inner_text()
    assert "%" in page.locator(".stats").inner_text()  # rates as percentages
    # The fair-lending audit at the policy: age bands in age order, youngest first, 62+ last.
    audit = page.locator("#policy-fairness ~ .audit-fairness")
    assert audit.locator(".badge").first.is_visible()
    bands = audit.locator("section[aria-label='Age band'] tbody th[scope=row]").all_inner_texts()
    bands = [text.split()[0] for text in bands]
    order = ["<25", "25-34", "35-44", "45-61", "62+"]
    assert bands[0] == "<25" and bands == [band for band in order if band in bands]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"model-detail-{viewport['width']}")


@pytest.mark.parametrize("width", [360, 1920])
def test_the_activate_button_is_visible_at_every_width(
    new_page, model_admin, trained_model, width
) -> None:
    candidate(trained_model)
    page = new_page({"width": width, "height": 800})
    sign_in(page, "model_admin")
    page.goto("/models/")
    button = page.locator("a.action", has_text="Activate")
    assert button.is_visible()
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"model-list-{width}")
    page.goto("/models/candidate-2/")
    detail = page.locator("#activate-button")
    box = detail.bounding_box()
    assert detail.is_visible() and box["x"] + box["width"] <= width
    screenshot(page, f"model-detail-button-{width}")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366", "390"])
def test_promotion_shows_the_comparison_and_requires_a_reason(
    new_page, model_admin, trained_model, viewport
) -> None:
    candidate(trained_model)
    page = new_page(viewport)
    sign_in(page, "model_admin")
    page.goto("/models/candidate-2/")
    page.click("#activate-button")
    # The click returns once the navigation commits; expect waits for the page to render.
    table = page.locator("#promotion-comparison")
    expect(table).to_be_visible(timeout=TIMEOUT_MS)
    text = table.inner_text()
    assert "candidate-2" in text and trained_model.version in text and "ROC AUC" in text
    assert page.locator("text=Fairness at the policy's thresholds").is_visible()

    page.click("#confirm-activate")  # no reason written
    expect(page.locator("text=Write the reason for this change")).to_be_visible(timeout=TIMEOUT_MS)
    assert registry.active_model_version() == trained_model
    screenshot(page, f"promotion-refused-{viewport['width']}")

    page.fill("textarea[name=reason]", "Better ranking on the last quarter's applications")
    page.click("#confirm-activate")
    page.wait_for_url("**/models/candidate-2/")
    assert page.locator("text=Model candidate-2 is now active.").is_visible()
    assert registry.active_model_version().version == "candidate-2"
    screenshot(page, f"promotion-done-{viewport['width']}")
