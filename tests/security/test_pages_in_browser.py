"""Every page works in Chromium under the Content-Security-Policy (probe item 7).

`new_page` (tests/e2e/conftest.py) fails a test on any CSP violation Chromium reports, so each
visit below proves the page needed no inline script or style; the charts and sizes set by
static/js/ are checked where they are drawn. Screenshots at phone and laptop width.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from scoring.models import BatchJob
from tests.e2e.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.factories import DEFAULT_PASSWORD, DecisionFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_officer_pages_draw_their_charts_under_the_policy(new_page, officer) -> None:
    decision = DecisionFactory(application__created_by=officer, outcome="REFER")
    batch = BatchJob.objects.create(
        created_by=officer, filename="march.csv", status="done", total_rows=1
    )
    DecisionFactory(
        application__created_by=officer, application__batch=batch, application__batch_row=1
    )
    for viewport, label in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = new_page(viewport)
        sign_in(page, "officer")
        screenshot(page, f"csp-dashboard-{label}")
        page.goto(f"/applications/{decision.application_id}/")
        page.locator("#contributions-chart").wait_for()
        height = page.locator(".chart-box").first.bounding_box()["height"]
        assert height > 100  # set from data-height by static/js/sizes.js
        drawn = page.evaluate(
            "() => Chart.getChart(document.getElementById('contributions-chart'))"
            ".data.datasets[0].data.length"
        )
        # Every bar the page sent was drawn (issue 11's families, however many there are).
        sent = page.evaluate(
            "() => JSON.parse(document.getElementById('contributions-data').textContent)"
            ".values.length"
        )
        assert drawn == sent >= 1
        screenshot(page, f"csp-application-{label}")
        page.goto(f"/batches/{batch.pk}/")
        page.locator("#pd-histogram").wait_for()
        assert page.evaluate(
            "() => Chart.getChart(document.getElementById('pd-histogram')) !== undefined"
        )
        screenshot(page, f"csp-batch-{label}")
        for url in ("/applications/", "/applications/new/", "/batches/", "/batches/new/"):
            assert page.goto(url).status == 200, url


def test_compliance_model_admin_and_admin_pages_under_the_policy(new_page) -> None:
    UserFactory(username="compliance", roles=["compliance"])
    UserFactory(username="modeladmin", roles=["model_admin"])
    UserFactory(username="root", is_staff=True, is_superuser=True)
    page = new_page()
    sign_in(page, "compliance")
    assert page.goto("/audit/").status == 200
    screenshot(page, "csp-audit-laptop")
    page = new_page()
    sign_in(page, "modeladmin")
    assert page.goto("/models/").status == 200
    page = new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    assert page.goto("/admin/auth/user/").status == 200


def test_the_api_docs_and_the_lockout_page_under_the_policy(new_page, officer) -> None:
    page = new_page()
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "CredScope API" in page.inner_text(".swagger-ui .info .title")
    screenshot(page, "csp-api-docs-laptop")
    for viewport, label in ((LAPTOP, "laptop"), (PHONE, "phone")):
        AccessAttempt.objects.all().delete()
        page = new_page(viewport)
        page.goto("/accounts/login/")
        for n in range(10):
            page.fill("#id_username", "officer")
            page.fill("#id_password", f"wrong-{n}")
            page.click("button[type=submit]")
            page.wait_for_load_state()
        assert "Sign-in paused" in page.inner_text("h1")
        assert "Try again in 15 minutes" in page.inner_text("main")
        screenshot(page, f"csp-locked-out-{label}")


def test_filters_that_cannot_be_applied_are_named_on_the_page(new_page, officer) -> None:
    UserFactory(username="compliance", roles=["compliance"])
    for viewport, label in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = new_page(viewport)
        sign_in(page, "officer")
        response = page.goto("/applications/?search=%C2%B2")
        assert response.status == 400
        assert "The search digits must be 0-9" in page.inner_text("#search-error")
        screenshot(page, f"odd-search-{label}")
        page = new_page(viewport)
        sign_in(page, "compliance")
        response = page.goto("/audit/?actor=%00")
        assert response.status == 400
        assert "Null characters are not allowed." in page.inner_text("main")
        screenshot(page, f"odd-audit-filter-{label}")
