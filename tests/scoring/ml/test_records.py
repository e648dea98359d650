"""CSV lines validated a column at a time give exactly what `clean_application` gives each
line: the same row (values and their types: int, float, -0.0) and the same errors, in order."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.ml.schema import records
from scoring.ml.schema.records import (
    APPLICATION_TABLE,
    ASSIGNED_COLUMNS,
    clean_application,
    clean_applications_from_text,
)
from scoring.ml.schema.tables import Kind

HEADER = [
    "NAME_CONTRACT_TYPE",
    "CODE_GENDER",
    "NAME_INCOME_TYPE",
    "CNT_CHILDREN",
    "CNT_FAM_MEMBERS",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "DAYS_BIRTH",
    "DAYS_EMPLOYED",
    "EXT_SOURCE_2",
    "FLAG_MOBIL",
    "OWN_CAR_AGE",
    "REGION_RATING_CLIENT",
]


def one_by_one(header, lines):
    return [clean_application(dict(zip(header, cells, strict=True)), from_text=True)
            for cells in lines]  # fmt: skip


def exactly(results):
    """repr tells 1 from 1.0 and 0.0 from -0.0, and keeps the errors' order."""
    return [repr(result) for result in results]


def _cell_for(column: str) -> st.SearchStrategy[str]:
    kind = APPLICATION_TABLE.column(column).kind
    odd = st.sampled_from(
        ["", " ", "\t", "nan", "NaN", "inf", "-Infinity", "1_000", "\u0661\u0662", "0x10",
         "1e", ".", "+", "-", "\u00b2", " 5", "5 ", "1,5", "1e999", "-1e999", "9" * 30,
         "9007199254740993", "9223372036854775808", "-0", "+0.0", "00012", "1.", ".5"]
    )  # fmt: skip
    numbers = st.one_of(
        st.integers(-(10**20), 10**20).map(str),
        st.integers(-40000, 400000).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.floats(-1e7, 1e7).map(lambda x: f"{x:.6g}"),
        st.floats(0, 1).map(str),
        st.from_regex(r"[+-]?[0-9]{0,4}\.?[0-9]{0,4}([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    )
    if kind is Kind.CATEGORY:
        words = APPLICATION_TABLE.column(column).vocabulary
        return st.one_of(
            st.sampled_from(words),
            st.sampled_from([f" {words[0]}", words[0].lower(), f"{words[0]} "]),
            odd,
            st.text(max_size=4),
        )
    return st.one_of(numbers, odd, st.text(max_size=4))


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(lines=st.lists(st.tuples(*(_cell_for(column) for column in HEADER)).map(list), max_size=40))
def test_generated_lines_are_cleaned_as_one_by_one(lines) -> None:
    assert exactly(clean_applications_from_text(HEADER, lines)) == exactly(
        one_by_one(HEADER, lines)
    )


def test_every_line_of_the_real_sample_is_cleaned_as_one_by_one(
    home_credit_sample_dir: Path,
) -> None:
    for name in ("application_test", "application_train"):
        with gzip.open(home_credit_sample_dir / f"{name}.csv.gz", "rt", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            keep = [i for i, column in enumerate(header) if column not in ASSIGNED_COLUMNS]
            lines = [[cells[i] for i in keep] for cells in reader]
        header = [header[i] for i in keep]
        results = clean_applications_from_text(header, lines)
        assert exactly(results) == exactly(one_by_one(header, lines))
        assert sum(not errors for _, errors in results) > 0.9 * len(lines)


def test_plain_lines_are_parsed_by_column_and_odd_ones_one_by_one(monkeypatch) -> None:
    """The columnar path is the one taken for ordinary lines (else the tests above would
    compare `clean_application` with itself)."""
    one_by_one_lines: list[list[str]] = []
    real = records._clean_line_from_text

    def counting(header, cells):
        one_by_one_lines.append(list(cells))
        return real(header, cells)

    monkeypatch.setattr(records, "_clean_line_from_text", counting)
    header = ["NAME_CONTRACT_TYPE", "CNT_CHILDREN", "AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH"]
    plain = ["Cash loans", "2", "180000", "500000.5", "-15000"]
    missing_required = ["", "", "", "500000", "-15000"]
    out_of_range = ["Revolving loans", "0", "-5", "1e3", "-100"]
    odd = ["Cash loans", "2.5", " 180000", "500000", "-15000"]
    results = clean_applications_from_text(header, [plain, missing_required, out_of_range, odd])
    assert one_by_one_lines == [odd]
    assert results[0] == (
        {"NAME_CONTRACT_TYPE": "Cash loans", "CNT_CHILDREN": 2, "AMT_INCOME_TOTAL": 180000.0,
         "AMT_CREDIT": 500000.5, "DAYS_BIRTH": -15000},
        {},
    )  # fmt: skip
    assert results[1][1] == {"AMT_INCOME_TOTAL": "this field is required"}
    assert results[2][1] == {
        "AMT_INCOME_TOTAL": "must be greater than 0",
        "DAYS_BIRTH": "must be an age of 18 to 100 years, in days before today (< 0)",
    }
    assert results[3][1] == {"CNT_CHILDREN": "must be a whole number (got '2.5')"}


@pytest.mark.parametrize(
    "header",
    [["AMT_INCOME_TOTAL", "AMT_INCOME_TOTAL"], ["AMT_INCOME_TOTAL", "TARGET"], ["NO_SUCH"]],
)
def test_headers_the_columns_cannot_hold_go_line_by_line(header) -> None:
    lines = [["1"] * len(header), ["x"] * len(header)]
    assert exactly(clean_applications_from_text(header, lines)) == exactly(
        one_by_one(header, lines)
    )
