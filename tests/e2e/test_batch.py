"""A CSV batch in a real browser: upload, progress, summary, results with a row's error."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from applicants.models import LoanApplication
from applicants.services.batch_intake import template_csv
from scoring.models import BatchJob
from tests.e2e.conftest import screenshot, sign_in
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def batch_csv() -> bytes:
    """Twelve rows from the template's examples with varied figures, and one bad row."""
    lines = list(csv.reader(io.StringIO(template_csv())))
    header, examples = lines[0], lines[1:]
    rows = []
    for index in range(12):
        row = dict(zip(header, examples[index % 2], strict=True))
        row["AMT_CREDIT"] = str(200000 + 45000 * index)
        row["EXT_SOURCE_2"] = f"{0.1 + 0.06 * index:.2f}"
        rows.append(row)
    rows.insert(4, {**rows[0], "AMT_CREDIT": "lots", "DAYS_BIRTH": "-15000"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_a_batch_with_one_bad_row_finishes_with_that_rows_error_in_the_results(
    new_page, officer, trained_model
) -> None:
    page = new_page()
    sign_in(page, "officer")
    page.click("nav.mainnav >> text=Batches")
    page.click("text=Upload a batch")
    with page.expect_download() as template:
        page.click("text=Download the CSV template")
    assert template.value.suggested_filename == "credscope-batch-template.csv"

    page.set_input_files(
        "#id_file", {"name": "march.csv", "mimeType": "text/csv", "buffer": batch_csv()}
    )
    page.click("text=Upload and score")
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    page.wait_for_selector("#results-link")  # the page follows the progress until done

    batch = BatchJob.objects.get()
    assert batch.status == "done" and batch.total_rows == 13 and batch.invalid_rows == 1
    assert page.inner_text("[data-count=decided]") == "12"
    assert page.inner_text("[data-count=invalid]") == "1"
    bins = page.evaluate(
        "() => Chart.getChart(document.getElementById('pd-histogram')).data.datasets[0].data"
    )
    assert sum(bins) == 12
    assert "AMT_CREDIT" in page.inner_text("#errors-title + div, #errors-title ~ *")

    with page.expect_download() as results:
        page.click("#results-link")
    text = Path(results.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 13
    bad = [row for row in rows if row["status"] == "INVALID"]
    assert [row["row"] for row in bad] == ["5"]
    assert "AMT_CREDIT: must be a number (got 'lots')" in bad[0]["errors"]
    assert all(row["outcome"] in ("APPROVE", "REFER", "REJECT") for row in rows if row not in bad)
    screenshot(page, "batch-laptop")


def bar_width(page) -> str:
    return page.eval_on_selector("[data-progress-bar]", "el => el.style.width")


def test_the_batch_page_follows_the_progress_until_done(new_page, officer) -> None:
    batch = BatchJob.objects.create(
        created_by=officer, filename="april.csv", status="running", total_rows=4
    )
    rows = [
        LoanApplicationFactory(created_by=officer, batch=batch, batch_row=n) for n in (1, 2, 3, 4)
    ]
    DecisionFactory(application=rows[0], outcome="APPROVE", probability_of_default=0.04)
    LoanApplication.objects.filter(pk=rows[0].pk).update(status="DECIDED")

    page = new_page()
    sign_in(page, "officer")
    page.goto(f"/batches/{batch.pk}/")
    assert page.inner_text("[data-progress-text]") == "1 of 4 rows processed"
    assert bar_width(page) == "25%"
    screenshot(page, "batch-progress")

    for application, pd in zip(rows[1:], (0.11, 0.31, 0.05), strict=True):
        DecisionFactory(application=application, probability_of_default=pd)
    LoanApplication.objects.filter(batch=batch).update(status="DECIDED")
    page.wait_for_function(
        "document.querySelector('[data-progress-text]').textContent.startsWith('4 of 4')"
    )
    assert bar_width(page) == "100%"
    BatchJob.objects.filter(pk=batch.pk).update(status="done")
    page.wait_for_selector("#results-link")  # finished: the page reloads with the summary
    assert page.inner_text("[data-count=decided]") == "4"
