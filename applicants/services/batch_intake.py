"""CSV batches: many applications in one upload, validated with the rules of every door.

`batch_create` reads the upload (UTF-8 CSV, Kaggle application column names in the header,
one application per line; an optional SK_ID_CURR column links a row to known history), checks
the file as a whole (size, row count, header), validates every row with the same rules as the
other doors (`scoring.ml.schema.records.clean_application(from_text=True)`), and in one
transaction saves the batch with each bad row's errors, its valid rows in ranges of
CREDSCOPE_BATCH_CHUNK_SIZE (`BatchIntake`), and the batch's own audit event. After the commit
the batch is queued; `scoring.chunks` gives each range to a chunk task, which saves its rows
as SUBMITTED applications (channel "batch") with their audit events and then scores them.

Why the workers save the rows: saving 10,000 applicants, applications and audit events took
two thirds of a 10,000-row upload's time, in the one web process that answers it, while the
workers waited. The upload still checks every row before it answers, and nothing valid is
lost: the rows are committed with the batch, and a chunk saves its range in one transaction.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from applicants.models import Applicant, LoanApplication
from applicants.services.submit import storage_errors
from audits import trail
from audits.actions import AuditAction
from credscope_site import formatting
from credscope_site.roles import Perm
from credscope_site.validators import BIGINT_MAX
from scoring import queue, registry
from scoring.ml.schema.contract import InputContract
from scoring.ml.schema.records import (
    APPLICATION_TABLE,
    ASSIGNED_COLUMNS,
    REQUIRED_APPLICATION_COLUMNS,
    clean_applications_from_text,
)
from scoring.models import BatchIntake, BatchJob, IntakeLine, intake_document

EXTERNAL_ID_COLUMN = "SK_ID_CURR"
# Optional: the applicant's name, shown in the lists (not a model input).
FULL_NAME_COLUMN = "full_name"
FULL_NAME_MAX = Applicant._meta.get_field("full_name").max_length
KNOWN_COLUMNS = frozenset(APPLICATION_TABLE.column_names) - ASSIGNED_COLUMNS
EXTRA_COLUMNS = frozenset({EXTERNAL_ID_COLUMN, FULL_NAME_COLUMN})

# The template a loan officer downloads: the usual columns and two filled-in examples
# (Kaggle conventions: day offsets before the application, 365243 = not employed); any other
# column the active version requires is added (`template_columns`).
TEMPLATE_COLUMNS = (
    EXTERNAL_ID_COLUMN,
    FULL_NAME_COLUMN,
    "NAME_CONTRACT_TYPE",
    "CODE_GENDER",
    "FLAG_OWN_CAR",
    "FLAG_OWN_REALTY",
    "CNT_CHILDREN",
    "CNT_FAM_MEMBERS",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "NAME_INCOME_TYPE",
    "NAME_EDUCATION_TYPE",
    "NAME_FAMILY_STATUS",
    "NAME_HOUSING_TYPE",
    "OCCUPATION_TYPE",
    "ORGANIZATION_TYPE",
    "DAYS_BIRTH",
    "DAYS_EMPLOYED",
    "REGION_POPULATION_RELATIVE",
    "EXT_SOURCE_1",
    "EXT_SOURCE_2",
    "EXT_SOURCE_3",
)
TEMPLATE_EXAMPLES: tuple[dict[str, str], ...] = (
    {
        FULL_NAME_COLUMN: "Jana Novakova",
        "NAME_CONTRACT_TYPE": "Cash loans",
        "CODE_GENDER": "F",
        "FLAG_OWN_CAR": "N",
        "FLAG_OWN_REALTY": "Y",
        "CNT_CHILDREN": "1",
        "CNT_FAM_MEMBERS": "3",
        "AMT_INCOME_TOTAL": "180000",
        "AMT_CREDIT": "500000",
        "AMT_ANNUITY": "25000",
        "AMT_GOODS_PRICE": "450000",
        "NAME_INCOME_TYPE": "Working",
        "NAME_EDUCATION_TYPE": "Higher education",
        "NAME_FAMILY_STATUS": "Married",
        "NAME_HOUSING_TYPE": "House / apartment",
        "OCCUPATION_TYPE": "Accountants",
        "ORGANIZATION_TYPE": "Bank",
        "DAYS_BIRTH": "-15000",
        "DAYS_EMPLOYED": "-2500",
        "REGION_POPULATION_RELATIVE": "0.035792",
        "REGION_RATING_CLIENT": "2",
        "REGION_RATING_CLIENT_W_CITY": "2",
        "DAYS_REGISTRATION": "-4000",
        "DAYS_ID_PUBLISH": "-3000",
        "DAYS_LAST_PHONE_CHANGE": "-1100",
        "FLAG_DOCUMENT_3": "1",
        "EXT_SOURCE_2": "0.65",
        "EXT_SOURCE_3": "0.58",
    },
    {
        FULL_NAME_COLUMN: "Petr Svoboda",
        "NAME_CONTRACT_TYPE": "Revolving loans",
        "CODE_GENDER": "M",
        "FLAG_OWN_CAR": "Y",
        "FLAG_OWN_REALTY": "N",
        "CNT_CHILDREN": "0",
        "CNT_FAM_MEMBERS": "1",
        "AMT_INCOME_TOTAL": "90000",
        "AMT_CREDIT": "270000",
        "AMT_ANNUITY": "13500",
        "NAME_INCOME_TYPE": "Pensioner",
        "NAME_EDUCATION_TYPE": "Secondary / secondary special",
        "NAME_FAMILY_STATUS": "Single / not married",
        "NAME_HOUSING_TYPE": "Rented apartment",
        "ORGANIZATION_TYPE": "XNA",
        "DAYS_BIRTH": "-23000",
        "DAYS_EMPLOYED": "365243",
        "REGION_POPULATION_RELATIVE": "0.010006",
        "REGION_RATING_CLIENT": "2",
        "REGION_RATING_CLIENT_W_CITY": "2",
        "DAYS_REGISTRATION": "-9000",
        "DAYS_ID_PUBLISH": "-4500",
        "DAYS_LAST_PHONE_CHANGE": "-400",
        "FLAG_DOCUMENT_3": "0",
        "EXT_SOURCE_2": "0.41",
    },
)


class BatchInvalid(Exception):
    """The file as a whole cannot be accepted; `errors` maps "file" (or a column) to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def batch_create(*, actor: AbstractBaseUser, filename: str, content: bytes) -> BatchJob:
    """Validate and save an uploaded CSV; queue its valid rows for scoring after commit.

    Raises `PermissionDenied`, `BatchInvalid` (file-level problems: nothing is saved),
    `registry.NoActiveModel`, and `queue.BatchQueueUnavailable` when the batch was saved
    but the broker refused it (the sweeper sends it again).
    """
    if not actor.has_perm(Perm.SUBMIT_BATCH):
        raise PermissionDenied("this role may not submit batches")
    versions = registry.active_versions()  # once, for every row's input contract
    contract = registry.input_contract(versions)
    header, lines = parse_csv(content, required=contract.required)
    valid: list[IntakeLine] = []
    row_errors: dict[str, dict[str, str]] = {}
    row_identities: dict[str, dict[str, str]] = {}
    for number, line in enumerate(_clean_lines(header, lines, contract), start=1):
        if line.errors:
            row_errors[str(number)] = line.errors
            if line.identity:
                row_identities[str(number)] = line.identity
        else:
            valid.append((number, line.row, line.external_id, line.full_name))
    row_warnings = resubmission_warnings(
        [(number, external_id) for number, _, external_id, _ in valid]
    )
    if valid and versions[0] is None:
        raise registry.NoActiveModel("no model version is active: nothing could score the batch")

    queue_errors: list[Exception] = []
    with transaction.atomic():
        batch = BatchJob.objects.create(
            created_by=actor,
            filename=(filename or "upload.csv")[:255],
            status=BatchJob.Status.QUEUED if valid else BatchJob.Status.DONE,
            total_rows=len(lines),
            invalid_rows=len(row_errors),
            row_errors=row_errors,
            row_identities=row_identities,
            row_warnings=row_warnings,
            finished_at=None if valid else timezone.now(),
            valid_rows=len(valid),
        )
        _save_intakes(batch, valid)
        trail.record(
            action=AuditAction.BATCH_SUBMITTED,
            actor=actor,
            target=batch,
            payload={
                "filename": batch.filename,
                "total_rows": batch.total_rows,
                "valid_rows": len(valid),
                "invalid_rows": batch.invalid_rows,
                "rows_with_warnings": len(row_warnings),
                "before": None,
                "after": {"status": batch.status},
            },
        )
        if valid:
            transaction.on_commit(lambda: _enqueue(batch.pk, queue_errors))
    if queue_errors:
        raise queue_errors[0]
    return batch


def _save_intakes(batch: BatchJob, valid: list[IntakeLine]) -> None:
    """The valid rows in ranges of CREDSCOPE_BATCH_CHUNK_SIZE, one chunk task's work each
    (inside the caller's transaction)."""
    size = settings.CREDSCOPE_BATCH_CHUNK_SIZE
    BatchIntake.objects.bulk_create(
        [
            BatchIntake(
                batch=batch,
                first_row=part[0][0],
                last_row=part[-1][0],
                document=intake_document(part),
                external_ids=[
                    external_id for _, _, external_id, _ in part if external_id is not None
                ],
            )
            for part in (valid[i : i + size] for i in range(0, len(valid), size))
        ]
    )


def parse_csv(
    content: bytes, *, required: Sequence[str] = REQUIRED_APPLICATION_COLUMNS
) -> tuple[list[str], list[list[str]]]:
    """The header and the data lines of an upload, or `BatchInvalid` for the whole file (a
    header without a `required` column: every row would lack it)."""
    max_bytes = settings.CREDSCOPE_BATCH_MAX_BYTES
    max_rows = settings.CREDSCOPE_BATCH_MAX_ROWS
    if len(content) > max_bytes:
        raise BatchInvalid({"file": f"is {len(content):,} bytes; the limit is {max_bytes:,} bytes"})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BatchInvalid({"file": f"is not UTF-8 text (byte {error.start})"}) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise BatchInvalid({"file": "is empty: expected a header line of column names"})
        lines = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, including the one a trailing newline leaves
            lines.append(cells)
            if len(lines) > max_rows:
                raise BatchInvalid({"file": f"has more than {max_rows:,} rows (the limit)"})
    except csv.Error as error:
        raise BatchInvalid({"file": f"is not valid CSV: {error}"}) from None
    _check_header(header, required)
    if not lines:
        raise BatchInvalid({"file": "has a header but no rows"})
    return header, lines


def _check_header(header: Sequence[str], required: Sequence[str]) -> None:
    errors: dict[str, str] = {}
    duplicates = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicates:
        errors["header"] = f"repeats column(s): {', '.join(duplicates)}"
    unknown = [name for name in header if name not in KNOWN_COLUMNS | EXTRA_COLUMNS]
    if unknown:
        errors["columns"] = (
            f"unknown column(s): {', '.join(unknown[:20])}"
            + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            + "; expected Kaggle application column names"
        )
    missing = [name for name in required if name not in header]
    if missing:
        errors["required"] = f"missing required column(s): {', '.join(missing)}"
    if errors:
        raise BatchInvalid(errors)


@dataclass
class _Line:
    row: dict[str, Any] = field(default_factory=dict)
    external_id: int | None = None
    full_name: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    # The line's SK_ID_CURR and name as written, kept for an invalid line's results row.
    identity: dict[str, str] = field(default_factory=dict)


def _clean_lines(
    header: Sequence[str], lines: Sequence[Sequence[str]], contract: InputContract
) -> list[_Line]:
    """Every line validated, in one pass per step: the cells of all well-formed lines are
    parsed a column at a time (`clean_applications_from_text`), then each line's own checks
    (its id and name, the model's input contract, what the database can store) run on it."""
    cleaned = [_Line() for _ in lines]
    positions = {name: i for i, name in enumerate(header)}
    application_columns = [i for i, name in enumerate(header) if name not in EXTRA_COLUMNS]
    well_formed = []
    for line, cells in zip(cleaned, lines, strict=True):
        _read_identity(line, positions, cells)
        if len(cells) != len(header):
            line.errors = {"row": f"has {len(cells)} cells; the header has {len(header)}"}
        else:
            _read_extra_columns(line, positions, cells)
            well_formed.append((line, cells))
    application_rows = clean_applications_from_text(
        [header[i] for i in application_columns],
        [[cells[i] for i in application_columns] for _, cells in well_formed],
    )
    for (line, _), (row, row_errors) in zip(well_formed, application_rows, strict=True):
        line.row = row
        line.errors.update(row_errors)
        # The active version's contract: each required input left empty, then its domain.
        line.errors.update(contract.errors(row, known=row_errors))
        if not line.errors:
            line.errors = storage_errors(row, {})
    return cleaned


def _read_identity(line: _Line, positions: Mapping[str, int], cells: Sequence[str]) -> None:
    """A short or long line still names its person when those columns are within reach."""
    for column in (EXTERNAL_ID_COLUMN, FULL_NAME_COLUMN):
        position = positions.get(column, len(cells))
        if position < len(cells) and (text := cells[position].strip()):
            line.identity[column] = text[:FULL_NAME_MAX]


def _read_extra_columns(line: _Line, positions: Mapping[str, int], cells: Sequence[str]) -> None:
    """The line's SK_ID_CURR and name, which are not model inputs."""
    raw_id = cells[positions[EXTERNAL_ID_COLUMN]].strip() if EXTERNAL_ID_COLUMN in positions else ""
    if raw_id:
        # isdecimal() alone accepts other scripts' digits, isdigit() even '²' (then int()
        # raises): an id is ASCII 0-9, and fits the database's bigint.
        if raw_id.isascii() and raw_id.isdecimal() and int(raw_id) <= BIGINT_MAX:
            line.external_id = int(raw_id)
        elif raw_id.isascii() and raw_id.isdecimal():
            line.errors[EXTERNAL_ID_COLUMN] = f"must be at most {BIGINT_MAX}"
        else:
            shown = raw_id if len(raw_id) <= 40 else raw_id[:37] + "..."
            line.errors[EXTERNAL_ID_COLUMN] = f"must be a whole number >= 0 (got {shown!r})"
    name = cells[positions[FULL_NAME_COLUMN]] if FULL_NAME_COLUMN in positions else ""
    line.full_name = " ".join(name.split())
    if len(line.full_name) > FULL_NAME_MAX:
        line.errors[FULL_NAME_COLUMN] = (
            f"is {len(line.full_name)} characters; at most {FULL_NAME_MAX} are kept"
        )


def resubmission_warnings(rows: Sequence[tuple[int, int | None]]) -> dict[str, dict[str, str]]:
    """{"<row>": {"SK_ID_CURR": why}} for rows whose SK_ID_CURR was already submitted within
    CREDSCOPE_RESUBMISSION_DAYS, by anyone, or appears on an earlier row of the same file.

    A warning, not an error: a person may rightly apply again, but an officer should know.
    Only the date is named, never another officer's application.
    """
    days = settings.CREDSCOPE_RESUBMISSION_DAYS
    ids = {external_id for _, external_id in rows if external_id is not None}
    if not ids:
        return {}
    since = timezone.now() - timedelta(days=days)
    latest = dict(
        LoanApplication.objects.filter(applicant__external_id__in=ids, submitted_at__gte=since)
        .values_list("applicant__external_id")
        .annotate(last=Max("submitted_at"))
        .values_list("applicant__external_id", "last")
    )
    # Rows of uploads whose chunk tasks have not saved them yet count as submitted too.
    for external_ids, uploaded in BatchIntake.objects.filter(
        batch__created_at__gte=since
    ).values_list("external_ids", "batch__created_at"):
        for external_id in ids.intersection(external_ids):
            if external_id not in latest or latest[external_id] < uploaded:
                latest[external_id] = uploaded
    warnings: dict[str, dict[str, str]] = {}
    first_row: dict[int, int] = {}
    for number, external_id in rows:
        if external_id is None:
            continue
        problems = []
        if external_id in latest:
            problems.append(
                f"{external_id} was already submitted in the last {days} days "
                f"(latest {formatting.when(latest[external_id])})"
            )
        if external_id in first_row:
            problems.append(f"{external_id} is also on row {first_row[external_id]} of this file")
        else:
            first_row[external_id] = number
        if problems:
            warnings[str(number)] = {EXTERNAL_ID_COLUMN: "; ".join(problems)}
    return warnings


def _enqueue(batch_id: int, errors: list[Exception]) -> None:
    try:
        queue.batch_scoring_enqueue(batch_id=batch_id)
    except queue.BatchQueueUnavailable as error:
        errors.append(error)


def required_columns() -> tuple[str, ...]:
    """The columns every row must fill in for the active model version (the batch page)."""
    return registry.input_contract().required


def template_columns(required: Sequence[str]) -> list[str]:
    """The template's columns: the usual ones, then any other `required` one."""
    return [*TEMPLATE_COLUMNS, *(name for name in required if name not in TEMPLATE_COLUMNS)]


def template_csv() -> str:
    """The template for the active version: its required columns filled in on both examples
    (a required column no example knows is left empty, for the officer to fill)."""
    columns = template_columns(required_columns())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(TEMPLATE_EXAMPLES)
    return buffer.getvalue()
