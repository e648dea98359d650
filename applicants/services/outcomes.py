"""Recorded loan outcomes (repaid / defaulted): one through the API, many from a CSV file.

Both are audited and all-or-nothing: a file with one bad row records nothing, and says which
row and column is wrong. A recorded outcome is never overwritten; recording the same outcome
again is harmless (reported as unchanged), a different one is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from applicants.models import LoanApplication, LoanOutcome
from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm

Result = LoanOutcome.Result
CSV_ID_COLUMNS = ("application_id", "external_id")
CSV_REQUIRED = ("outcome", "observed_at")
MAX_IMPORT_ROWS = 200_000


class OutcomeRefused(Exception):
    """The outcome cannot be recorded; `errors` maps each field to its problem."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


class OutcomeConflict(OutcomeRefused):
    """A different outcome is already on record for the application."""


@dataclass(frozen=True)
class RowError:
    row: int  # the line in the file, the header being line 1
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class OutcomeImportInvalid(Exception):
    """The file was refused as a whole; nothing was recorded."""

    def __init__(self, filename: str, errors: list[RowError]) -> None:
        super().__init__(f"{filename}: {len(errors)} problem(s); nothing was recorded")
        self.filename = filename
        self.errors = errors


@dataclass
class ImportReport:
    recorded: int = 0
    unchanged: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


def loan_outcome_record(
    *,
    application: LoanApplication,
    outcome: str,
    observed_at: date,
    actor: AbstractBaseUser,
    source: str = "api",
) -> tuple[LoanOutcome, bool]:
    """Record what became of `application`; return the outcome and whether it is new.

    Raises `OutcomeRefused` naming the field: no permission, an unknown outcome, a date in
    the future or before the decision, an application not decided, or a different outcome
    already on record.
    """
    if not actor.has_perm(Perm.RECORD_OUTCOME):
        raise OutcomeRefused({"body": "Your role may not record loan outcomes."})
    with transaction.atomic():
        locked = LoanApplication.objects.select_for_update().get(pk=application.pk)
        errors = _problems(locked, outcome, observed_at)
        existing = LoanOutcome.objects.filter(application=locked).first()
        if existing is not None and not errors:
            if existing.outcome == outcome:
                return existing, False
            raise OutcomeConflict({"outcome": _already(existing)})
        if errors:
            raise OutcomeRefused(errors)
        recorded = LoanOutcome.objects.create(
            application=locked,
            outcome=outcome,
            observed_at=observed_at,
            recorded_by=actor,
            source=source,
        )
        trail.record(
            action=AuditAction.OUTCOME_RECORDED,
            actor=actor,
            target=locked,
            payload={"outcome": outcome, "observed_at": observed_at, "source": source},
        )
    return recorded, True


def loan_outcomes_import(*, csv_text: str, filename: str, actor: AbstractBaseUser) -> ImportReport:
    """Record every row of a CSV (application_id or external_id, outcome, observed_at).

    All or nothing: raises `OutcomeImportInvalid` listing each bad row and column, and then
    records none. One audit event for the file, with its counts.
    """
    if not actor.has_perm(Perm.RECORD_OUTCOME):
        raise OutcomeImportInvalid(
            filename, [RowError(1, "-", "your role may not record outcomes")]
        )
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header_errors = _header_problems(reader.fieldnames or [])
    if header_errors:
        raise OutcomeImportInvalid(filename, header_errors)
    rows = list(reader)
    if not rows:
        raise OutcomeImportInvalid(filename, [RowError(1, "-", "the file has no data rows")])
    if len(rows) > MAX_IMPORT_ROWS:
        raise OutcomeImportInvalid(
            filename, [RowError(1, "-", f"more than {MAX_IMPORT_ROWS:,} rows; split the file")]
        )
    report = ImportReport()
    with transaction.atomic():
        parsed, errors = _resolve_rows(rows)
        new: list[LoanOutcome] = []
        for line, application, outcome, observed_at in parsed:
            row_problems = _problems(application, outcome, observed_at)
            existing = getattr(application, "recorded_outcome", None)
            if existing is not None and not row_problems:
                if existing.outcome == outcome:
                    report.unchanged += 1
                    continue
                row_problems["outcome"] = _already(existing)
            errors += [RowError(line, column, message) for column, message in row_problems.items()]
            new.append(
                LoanOutcome(
                    application=application,
                    outcome=outcome,
                    observed_at=observed_at,
                    recorded_by=actor,
                    source=filename[:255],
                )
            )
        if errors:
            raise OutcomeImportInvalid(filename, sorted(errors, key=lambda e: e.row))
        LoanOutcome.objects.bulk_create(new, batch_size=2000)
        report.recorded = len(new)
        for item in new:
            report.by_outcome[item.outcome] = report.by_outcome.get(item.outcome, 0) + 1
        trail.record(
            action=AuditAction.OUTCOMES_IMPORTED,
            actor=actor,
            target_type=LoanOutcome._meta.label_lower,
            payload={
                "file": filename,
                "recorded": report.recorded,
                "unchanged": report.unchanged,
                "by_outcome": report.by_outcome,
                # The rows themselves name the file; the digest ties this event to its content.
                "sha256": hashlib.sha256(csv_text.encode()).hexdigest(),
            },
        )
    return report


def _header_problems(columns: list[str]) -> list[RowError]:
    names = {c.strip() for c in columns}
    problems = [
        RowError(1, c, "required column is missing") for c in CSV_REQUIRED if c not in names
    ]
    if not names & set(CSV_ID_COLUMNS):
        problems.append(RowError(1, "application_id", "give application_id or external_id"))
    return problems


def _resolve_rows(
    rows: list[dict[str, str]],
) -> tuple[list[tuple[int, LoanApplication, str, date]], list[RowError]]:
    """Each row's application, outcome and date, or its errors (ids looked up in bulk)."""
    errors: list[RowError] = []
    wanted_ids: set[int] = set()
    wanted_external: set[int] = set()
    cleaned = []
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        outcome = row.get("outcome", "").lower()
        if outcome not in Result.values:
            errors.append(
                RowError(line, "outcome", f"{row.get('outcome')!r} is not repaid or defaulted")
            )
        observed_at = _date(row.get("observed_at", ""))
        if observed_at is None:
            errors.append(
                RowError(
                    line, "observed_at", f"{row.get('observed_at')!r} is not a YYYY-MM-DD date"
                )
            )
        key = _id_of(row, line, errors)
        if key is not None:
            (wanted_ids if key[0] == "application_id" else wanted_external).add(key[1])
        cleaned.append((line, key, outcome, observed_at))
    by_id = LoanApplication.objects.select_related("decision", "recorded_outcome").in_bulk(
        wanted_ids
    )
    by_external: dict[int, list[LoanApplication]] = {}
    for application in LoanApplication.objects.select_related(
        "decision", "recorded_outcome"
    ).filter(applicant__external_id__in=wanted_external, status=LoanApplication.Status.DECIDED):
        by_external.setdefault(application.applicant.external_id, []).append(application)
    seen: dict[int, int] = {}
    parsed = []
    for line, key, outcome, observed_at in cleaned:
        if key is None:
            continue
        column, value = key
        application = _lookup(column, value, by_id, by_external, line, errors)
        if application is None:
            continue
        if application.pk in seen:
            errors.append(
                RowError(
                    line,
                    column,
                    f"application {application.pk} is also on row {seen[application.pk]}",
                )
            )
            continue
        seen[application.pk] = line
        if outcome in Result.values and observed_at is not None:
            parsed.append((line, application, outcome, observed_at))
    return parsed, errors


def _id_of(row: Mapping[str, str], line: int, errors: list[RowError]) -> tuple[str, int] | None:
    for column in CSV_ID_COLUMNS:
        raw = row.get(column, "")
        if raw:
            if not raw.isdigit():
                errors.append(RowError(line, column, f"{raw!r} is not a whole number"))
                return None
            return column, int(raw)
    errors.append(RowError(line, "application_id", "empty: give application_id or external_id"))
    return None


def _lookup(
    column: str,
    value: int,
    by_id: Mapping[int, LoanApplication],
    by_external: Mapping[int, list[LoanApplication]],
    line: int,
    errors: list[RowError],
) -> LoanApplication | None:
    if column == "application_id":
        if value not in by_id:
            errors.append(RowError(line, column, f"no application {value}"))
        return by_id.get(value)
    matches = by_external.get(value, [])
    if len(matches) != 1:
        problem = (
            "no decided application" if not matches else f"{len(matches)} decided applications"
        )
        errors.append(
            RowError(line, column, f"{problem} for external id {value}; use application_id")
        )
        return None
    return matches[0]


def _problems(application: LoanApplication, outcome: str, observed_at: date) -> dict[str, str]:
    errors: dict[str, str] = {}
    if outcome not in Result.values:
        errors["outcome"] = f"{outcome!r} is not repaid or defaulted"
    if application.status != LoanApplication.Status.DECIDED:
        errors["application"] = (
            f"application {application.pk} is not decided ({application.status})"
        )
    if observed_at > timezone.localdate():
        errors["observed_at"] = f"{observed_at} is in the future"
    decision = getattr(application, "decision", None)
    if decision is not None and observed_at < timezone.localdate(decision.decided_at):
        errors["observed_at"] = (
            f"{observed_at} is before the decision ({decision.decided_at:%Y-%m-%d})"
        )
    return errors


def _already(existing: LoanOutcome) -> str:
    return (
        f"already recorded as {existing.outcome} (observed {existing.observed_at}); "
        "a recorded outcome is not overwritten"
    )


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None
