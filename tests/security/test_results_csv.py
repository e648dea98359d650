"""The results CSV streams without loading what it does not show (probe item 4: a 20,000-row
batch took 64 s, past gunicorn's 60 s timeout, because every decision's contributions were
read). The figure is measured by bench/bench_results_csv.py; here, the behaviour."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scoring import selectors
from scoring.models import BatchJob
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(officer) -> BatchJob:
    """Seven lines: decided 1, 2, 4, 6; invalid 3 and 7; 5 failed in scoring."""
    batch = BatchJob.objects.create(
        created_by=officer,
        filename="march.csv",
        status="done",
        total_rows=7,
        invalid_rows=2,
        row_errors={"3": {"AMT_CREDIT": "must be a number"}, "7": {"row": "has 2 cells"}},
    )
    for row, outcome in ((1, "APPROVE"), (2, "REFER"), (4, "REJECT"), (6, "REFER")):
        DecisionFactory(
            application__created_by=officer,
            application__batch=batch,
            application__batch_row=row,
            application__applicant__external_id=100000 + row,
            outcome=outcome,
        )
    LoanApplicationFactory(
        created_by=officer, batch=batch, batch_row=5, status="FAILED", failure_reason="model gone"
    )
    return batch


def lines(rows) -> list[dict[str, str]]:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return list(csv.DictReader(io.StringIO(buffer.getvalue())))


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 5000])
def test_every_line_in_order_whatever_the_chunk_size(batch, chunk_rows) -> None:
    rows = lines(selectors.batch_results_rows(batch=batch, chunk_rows=chunk_rows))
    assert [r["row"] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [r["status"] for r in rows] == [
        "DECIDED", "DECIDED", "INVALID", "DECIDED", "FAILED", "DECIDED", "INVALID"
    ]  # fmt: skip
    assert rows[0]["outcome"] == "APPROVE" and rows[0]["SK_ID_CURR"] == "100001"
    assert rows[0]["probability_of_default"] == "0.120000"
    assert rows[0]["reasons"] == (
        "Requested credit is high relative to income; Age was a factor in the score"
    )
    assert rows[0]["model_version"] == "test-model-v1" and rows[0]["policy_version"]
    assert rows[2]["errors"] == "AMT_CREDIT: must be a number"
    assert rows[4]["errors"] == "model gone" and rows[4]["outcome"] == ""
    assert rows[6]["errors"] == "row: has 2 cells"


def test_only_the_shown_columns_are_read_in_bounded_chunks(batch) -> None:
    with CaptureQueriesContext(connection) as queries:
        rows = list(selectors.batch_results_rows(batch=batch, chunk_rows=2))
    assert len(rows) == 8  # header + 7
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "contributions" not in sql and "application_row" not in sql and "history" not in sql
    assert len(queries.captured_queries) == 3  # 5 applications in chunks of 2: 2 + 2 + 1


def test_the_download_is_a_stream_on_the_page_and_the_api(client, officer, batch) -> None:
    client.force_login(officer)
    for url in (
        reverse("applicants:batch_results", args=[batch.pk]),
        f"/api/v1/batches/{batch.pk}/results.csv",
    ):
        response = client.get(url, HTTP_ACCEPT="text/csv")
        assert isinstance(response, StreamingHttpResponse)
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        body = b"".join(response.streaming_content).decode()
        assert len(body.splitlines()) == 8
