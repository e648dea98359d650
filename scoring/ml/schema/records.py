"""Validation of single records as clients send them: one application, inline history rows.

The same rules serve the REST API (JSON values), CSV batches (text values) and the web form,
so a value that one door refuses, every door refuses. Nothing is coerced silently: a string
where a number belongs is an error in JSON, and text in a CSV cell must parse exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from scoring.ml.schema.tables import DAYS_SENTINEL, HISTORY_TABLES, TABLES, Column, Kind

APPLICATION_TABLE = TABLES["application_test"]  # the columns a new application may carry
# Keys that CredScope assigns itself: a client names history through the application.
ASSIGNED_COLUMNS = frozenset({"SK_ID_CURR", "TARGET"})
REQUIRED_APPLICATION_COLUMNS = ("AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH")
MAX_HISTORY_ROWS_PER_TABLE = 5000


@dataclass(frozen=True)
class Bounds:
    """The accepted range of one application column, and how a refusal reads."""

    minimum: float | None = None
    maximum: float | None = None
    #: The minimum itself is refused ("must be greater than 0").
    exclusive_minimum: bool = False
    message: str = ""

    def admits(self, value: float) -> bool:
        if self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        ):
            return False
        return self.maximum is None or value <= self.maximum


_POSITIVE = Bounds(0, exclusive_minimum=True, message="must be greater than 0")
_UNIT_INTERVAL = Bounds(0, 1, message="must be between 0 and 1")
_NON_NEGATIVE = Bounds(0, message="must not be negative")
_FLAG = Bounds(0, 1, message="must be 0 or 1")
_COUNT = Bounds(0, 1000, message="must be a count from 0 to 1000")
_DAYS_AGO = Bounds(  # an event in the applicant's lifetime: today or up to 100 years ago
    -100 * 365.25, 0, message="must be days before today: from -36525 to 0"
)
#: Cross-field rules: goods price and credit that far apart are not one purchase.
CREDIT_TO_GOODS_RANGE = (0.2, 6.0)


def _flag_columns() -> dict[str, Bounds]:
    """The application's 0/1 indicator columns (contact, documents, address mismatches)."""
    return {
        column.name: _FLAG
        for column in APPLICATION_TABLE.columns
        if column.kind is Kind.INT
        and column.name.startswith(("FLAG_", "REG_REGION_", "REG_CITY_", "LIVE_"))
    }


#: The one table of value ranges: `clean_application` enforces it and the REST API's schema
#: documents it (`application_fields`), so the two cannot drift apart.
APPLICATION_BOUNDS: dict[str, Bounds] = {
    **_flag_columns(),
    "AMT_INCOME_TOTAL": _POSITIVE,
    "AMT_CREDIT": _POSITIVE,
    "AMT_ANNUITY": _POSITIVE,
    "AMT_GOODS_PRICE": _POSITIVE,
    "EXT_SOURCE_1": _UNIT_INTERVAL,
    "EXT_SOURCE_2": _UNIT_INTERVAL,
    "EXT_SOURCE_3": _UNIT_INTERVAL,
    "REGION_POPULATION_RELATIVE": _UNIT_INTERVAL,
    "REGION_RATING_CLIENT": Bounds(1, 3, message="must be 1, 2 or 3"),
    "REGION_RATING_CLIENT_W_CITY": Bounds(1, 3, message="must be 1, 2 or 3"),
    "CNT_CHILDREN": Bounds(0, 20, message="must be from 0 to 20"),
    "CNT_FAM_MEMBERS": Bounds(1, 25, message="must be from 1 to 25"),
    "OWN_CAR_AGE": Bounds(0, 100, message="must be from 0 to 100 years"),
    "HOUR_APPR_PROCESS_START": Bounds(0, 23, message="must be an hour from 0 to 23"),
    "DAYS_REGISTRATION": _DAYS_AGO,
    "DAYS_ID_PUBLISH": _DAYS_AGO,
    "DAYS_LAST_PHONE_CHANGE": _DAYS_AGO,
    "OBS_30_CNT_SOCIAL_CIRCLE": _COUNT,
    "DEF_30_CNT_SOCIAL_CIRCLE": _COUNT,
    "OBS_60_CNT_SOCIAL_CIRCLE": _COUNT,
    "DEF_60_CNT_SOCIAL_CIRCLE": _COUNT,
    "AMT_REQ_CREDIT_BUREAU_HOUR": _COUNT,
    "AMT_REQ_CREDIT_BUREAU_DAY": _COUNT,
    "AMT_REQ_CREDIT_BUREAU_WEEK": _COUNT,
    "AMT_REQ_CREDIT_BUREAU_MON": _COUNT,
    "AMT_REQ_CREDIT_BUREAU_QRT": _COUNT,
    "AMT_REQ_CREDIT_BUREAU_YEAR": _COUNT,
    "DAYS_BIRTH": Bounds(  # 18 to 100 years old
        -100 * 365.25,
        -18 * 365.25,
        message="must be an age of 18 to 100 years, in days before today (< 0)",
    ),
}


@dataclass(frozen=True)
class FieldDefinition:
    """One application column as a client sends it: what the API documents and validates."""

    name: str
    kind: Kind
    vocabulary: tuple[str, ...]
    required: bool
    bounds: Bounds | None


def application_fields() -> list[FieldDefinition]:
    """Every column a new application may carry, with its kind, vocabulary, whether it is
    required and its accepted range."""
    return [
        FieldDefinition(
            name=column.name,
            kind=column.kind,
            vocabulary=column.vocabulary,
            required=column.name in REQUIRED_APPLICATION_COLUMNS,
            bounds=APPLICATION_BOUNDS.get(column.name),
        )
        for column in APPLICATION_TABLE.columns
        if column.name not in ASSIGNED_COLUMNS
    ]


@dataclass
class RecordErrors:
    """Field name -> message; `path` prefixes history fields, e.g. `history.bureau[2].X`."""

    errors: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.errors)


def clean_application(
    values: Mapping[str, Any], *, from_text: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """A validated application row (column -> value, missing left out) and its errors.

    `from_text` is for CSV cells: numbers are parsed from text, empty cells are missing.
    """
    errors = RecordErrors()
    row = _clean_columns(APPLICATION_TABLE.name, values, errors, "", from_text)
    _check_application_row(row, errors)
    return row, errors.errors


def clean_applications_from_text(
    header: Sequence[str], lines: Sequence[Sequence[str]]
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """`clean_application(dict(zip(header, cells)), from_text=True)` of every line, the
    cells parsed a column at a time (a CSV batch: up to 10,000 lines of ~120 cells).

    Cell by cell in Python, parsing was most of a batch's validation time. Here polars reads
    each column at once; a line whose every cell is plainly empty, a word of its column's
    vocabulary or an ASCII number (finite; whole and below 2^53 in an integer column) gets the
    row checks `clean_application` applies (`_check_application_row`), and any other line
    goes through `clean_application` itself, which words its errors. Every line has
    `len(header)` cells. A test holds the result to `clean_application`'s, line for line.
    """
    known = set(APPLICATION_TABLE.column_names) - ASSIGNED_COLUMNS
    if not lines or len(set(header)) != len(header) or not known.issuperset(header):
        return [_clean_line_from_text(header, cells) for cells in lines]
    plain = np.ones(len(lines), dtype=bool)
    parsed: list[list[Any]] = []
    for name, cells in zip(header, zip(*lines, strict=True), strict=True):
        values, plain_cells = _parse_text_column(APPLICATION_TABLE.column(name), cells)
        plain &= plain_cells
        parsed.append(values)
    results = []
    for cells, is_plain, row_values in zip(
        lines, plain.tolist(), zip(*parsed, strict=True), strict=True
    ):
        if not is_plain:
            results.append(_clean_line_from_text(header, cells))
            continue
        row = {
            name: value for name, value in zip(header, row_values, strict=True) if value is not None
        }
        errors = RecordErrors()
        _check_application_row(row, errors)
        results.append((row, errors.errors))
    return results


def _clean_line_from_text(
    header: Sequence[str], cells: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    return clean_application(dict(zip(header, cells, strict=True)), from_text=True)


#: A plain number in a CSV cell, as polars sees one: `_PLAIN_NUMBER` without the sign words
#: (nan, inf) and the surrounding spaces, which the cell-by-cell path handles. ASCII digits
#: only: the regex engine's \d would take other scripts' digits.
_PLAIN_TEXT_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
#: Integers up to this size are exact in a float64, so the column's float parse is exact.
_EXACT_INTEGER = 2.0**53


def _parse_text_column(column: Column, cells: Sequence[str]) -> tuple[list[Any], np.ndarray]:
    """One column's values (None where empty or not plain) and which cells are plain."""
    text = pl.Series(column.name, cells, dtype=pl.String)
    empty = text == ""
    if column.kind is Kind.CATEGORY:
        plain = empty | text.is_in(column.vocabulary)
        return _where(~empty, text), plain.to_numpy()
    numbers = text.cast(pl.Float64, strict=False)
    plain_number = text.str.contains(_PLAIN_TEXT_NUMBER) & numbers.is_finite()
    if column.kind is Kind.INT:
        plain_number &= (numbers == numbers.floor()) & (numbers.abs() < _EXACT_INTEGER)
    plain_number = plain_number.fill_null(False)
    values = _where(
        plain_number, numbers if column.kind is Kind.FLOAT else numbers.cast(pl.Int64, strict=False)
    )
    return values, (empty | plain_number).to_numpy()


def _where(mask: pl.Series, values: pl.Series) -> list[Any]:
    """`values` where `mask` holds, else None."""
    return values.zip_with(
        mask, pl.Series(dtype=values.dtype).extend_constant(None, len(values))
    ).to_list()


def _check_application_row(row: dict[str, Any], errors: RecordErrors) -> None:
    """The checks of a parsed application row: required fields, ranges, cross-field rules."""
    for name in REQUIRED_APPLICATION_COLUMNS:
        if row.get(name) is None and name not in errors.errors:
            errors.add(name, "this field is required")
    _check_application_ranges(row, errors)


def clean_history(history: Any) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Validated inline history: table name -> rows in that table's Kaggle schema."""
    errors = RecordErrors()
    if history in (None, {}):
        return {}, {}
    if not isinstance(history, Mapping):
        return {}, {"history": "must be an object mapping table names to lists of rows"}
    cleaned: dict[str, list[dict[str, Any]]] = {}
    for table_name, rows in history.items():
        if table_name not in HISTORY_TABLES:
            errors.add(f"history.{table_name}", f"unknown table; expected one of {HISTORY_TABLES}")
            continue
        if not isinstance(rows, list):
            errors.add(f"history.{table_name}", "must be a list of rows")
            continue
        if len(rows) > MAX_HISTORY_ROWS_PER_TABLE:
            errors.add(f"history.{table_name}", f"at most {MAX_HISTORY_ROWS_PER_TABLE} rows")
            continue
        cleaned[table_name] = []
        for index, row in enumerate(rows):
            prefix = f"history.{table_name}[{index}]."
            if not isinstance(row, Mapping):
                errors.add(prefix.rstrip("."), "must be an object")
                continue
            cleaned[table_name].append(_clean_columns(table_name, row, errors, prefix, False))
    _check_history_links(cleaned, errors)
    return cleaned, errors.errors


def _clean_columns(
    table_name: str, values: Mapping[str, Any], errors: RecordErrors, prefix: str, from_text: bool
) -> dict[str, Any]:
    table = TABLES[table_name]
    known = set(table.column_names) - ASSIGNED_COLUMNS
    row: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            reason = "is assigned by CredScope" if name in ASSIGNED_COLUMNS else "unknown field"
            errors.add(prefix + name, reason)
            continue
        column = table.column(name)
        value, message = _clean_value(column.kind, column.vocabulary, raw, from_text)
        if message:
            errors.add(prefix + name, message)
        elif value is not None:
            row[name] = value
    return row


def _clean_value(
    kind: Kind, vocabulary: tuple[str, ...], raw: Any, from_text: bool
) -> tuple[Any, str]:
    if raw is None or (from_text and isinstance(raw, str) and raw.strip() == ""):
        return None, ""
    if kind is Kind.CATEGORY:
        if not isinstance(raw, str):
            return None, f"must be text, one of: {', '.join(vocabulary)}"
        if raw not in vocabulary:
            return None, f"{raw!r} is not one of: {', '.join(vocabulary)}"
        return raw, ""
    if kind is Kind.INT and isinstance(raw, int) and not isinstance(raw, bool):
        # Exact: no detour through float, which rounds above 2^53 and overflows at 10^309.
        if abs(raw) > INT64_MAX:
            return None, f"must be at most {INT64_MAX} in size"
        return raw, ""
    number = _number(raw, from_text)
    if number is None:
        return None, f"must be a number (got {_shown(raw)})"
    if not math.isfinite(number):
        return None, "must be a finite number"
    if kind is Kind.INT:
        if number != int(number):
            return None, f"must be a whole number (got {_shown(raw)})"
        if abs(number) > INT64_MAX:  # 1e30 is a whole number, and no int64 holds it
            return None, f"must be at most {INT64_MAX} in size"
        return int(number), ""
    return float(number), ""


#: The widest integer the scoring frames (int64) and the database (bigint) hold.
INT64_MAX = 2**63 - 1
#: A number in a CSV cell: ASCII digits, an optional sign, point and exponent. Python's
#: float() also takes '1_8_0000' (as 180000) and digits of other scripts; a cell must not.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.I)


def _number(raw: Any, from_text: bool) -> float | None:
    if isinstance(raw, bool):  # JSON true/false is not 1/0 here
        return None
    if isinstance(raw, int | float):
        try:
            return float(raw)
        except OverflowError:  # an integer beyond any float: far out of every range
            return math.inf
    if from_text and isinstance(raw, str):
        text = raw.strip()
        if not text.isascii() or not _PLAIN_NUMBER.fullmatch(text):
            return None
        return float(text)
    return None


def _shown(raw: Any) -> str:
    """The value in a message, cut short: a 400-digit number need not be echoed whole."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_application_ranges(row: dict[str, Any], errors: RecordErrors) -> None:
    for name, bounds in APPLICATION_BOUNDS.items():
        if name in row and not bounds.admits(row[name]):
            errors.add(name, bounds.message)
    employed = row.get("DAYS_EMPLOYED")
    if employed is not None and employed > 0 and employed != DAYS_SENTINEL:
        errors.add("DAYS_EMPLOYED", f"must be <= 0 (days before today) or {DAYS_SENTINEL}")
    if employed is not None and "DAYS_BIRTH" in row and employed < row["DAYS_BIRTH"]:
        errors.add("DAYS_EMPLOYED", "employment cannot start before birth")
    _check_cross_fields(row, errors)


def _check_cross_fields(row: dict[str, Any], errors: RecordErrors) -> None:
    """Values that are each possible but not together."""
    children, members = row.get("CNT_CHILDREN"), row.get("CNT_FAM_MEMBERS")
    if children is not None and members is not None and members < children + 1:
        errors.add(
            "CNT_FAM_MEMBERS",
            f"the household must count the applicant and the {children:g} children "
            f"(at least {children + 1:g})",
        )
    credit, annuity = row.get("AMT_CREDIT"), row.get("AMT_ANNUITY")
    if credit and annuity is not None and annuity > credit:
        errors.add("AMT_ANNUITY", f"cannot exceed the credit ({credit:,.2f})")
    goods = row.get("AMT_GOODS_PRICE")
    low, high = CREDIT_TO_GOODS_RANGE
    if credit and goods and not low <= credit / goods <= high:
        errors.add(
            "AMT_GOODS_PRICE",
            f"must be consistent with the credit: the credit may be {low:g} to {high:g} "
            f"times the goods price (it is {credit / goods:.3g} times)",
        )


def _check_history_links(history: dict[str, list[dict[str, Any]]], errors: RecordErrors) -> None:
    """Inline rows must link up the way the Kaggle tables do."""
    bureau_ids = {row.get("SK_ID_BUREAU") for row in history.get("bureau", [])}
    previous_ids = {row.get("SK_ID_PREV") for row in history.get("previous_application", [])}
    for table_name, key, known in (
        ("bureau", "SK_ID_BUREAU", None),
        ("previous_application", "SK_ID_PREV", None),
        ("bureau_balance", "SK_ID_BUREAU", bureau_ids),
        ("POS_CASH_balance", "SK_ID_PREV", previous_ids),
        ("installments_payments", "SK_ID_PREV", previous_ids),
        ("credit_card_balance", "SK_ID_PREV", previous_ids),
    ):
        for index, row in enumerate(history.get(table_name, [])):
            name = f"history.{table_name}[{index}].{key}"
            if row.get(key) is None:
                errors.add(name, "this field is required")
            elif known is not None and row[key] not in known:
                parent = "bureau" if key == "SK_ID_BUREAU" else "previous_application"
                errors.add(name, f"refers to no row of history.{parent}")
    for table_name, key in (("bureau", "SK_ID_BUREAU"), ("previous_application", "SK_ID_PREV")):
        seen: set[Any] = set()
        for index, row in enumerate(history.get(table_name, [])):
            if row.get(key) in seen:
                errors.add(f"history.{table_name}[{index}].{key}", "duplicate key")
            seen.add(row.get(key))
