"""The validation report and the checks behind it (see :mod:`scoring.ml.data.load`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from scoring.ml.data.sources import Finding, Source, where
from scoring.ml.schema.tables import SCHEMA_VERSION, TABLES, TARGET, TARGET_VALUES, ForeignKey, Kind

_MAX_LISTED = 5


@dataclass
class TableSummary:
    """What was found in one table."""

    source: str = ""
    rows: int = 0
    unparsable: dict[str, int] = field(default_factory=dict)
    duplicate_keys: int = 0
    orphans: dict[str, int] = field(default_factory=dict)
    client_mismatches: int = 0
    unknown_categories: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class ValidationReport:
    tables: dict[str, TableSummary] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": self.ok,
            "tables": {name: asdict(summary) for name, summary in self.tables.items()},
            "errors": self.errors,
            "warnings": self.warnings,
        }

    def render(self) -> str:
        """The report as text for a terminal."""
        lines = ["table                       rows  unparsable  dup keys  orphan rows"]
        for name, s in self.tables.items():
            orphans = ", ".join(f"{k}: {v:,}" for k, v in s.orphans.items() if v) or "0"
            lines.append(
                f"{name:<22} {s.rows:>11,} {sum(s.unparsable.values()):>11,} "
                f"{s.duplicate_keys:>9,}  {orphans}"
            )
        for label, messages in (("ERROR", self.errors), ("warning", self.warnings)):
            lines.extend(f"{label}: {m}" for m in messages)
        lines.append(
            f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
            + ("" if self.ok else " - nothing was written")
        )
        return "\n".join(lines)


@dataclass
class Parents:
    """Sorted key arrays of the parent tables read so far."""

    clients: dict[str, np.ndarray] = field(default_factory=dict)
    bureau: np.ndarray | None = None
    previous: np.ndarray | None = None
    previous_clients: np.ndarray | None = None


def check_categories(
    name: str, table: pa.Table, summary: TableSummary, report: ValidationReport
) -> dict[str, list[str]]:
    """Categories per text column: the vocabulary, then unknown values (with a warning)."""
    categories = {}
    for column in TABLES[name].columns:
        if column.kind is not Kind.CATEGORY:
            continue
        known = set(column.vocabulary)
        unknown = {
            value: count
            for value, count in _value_counts(table.column(column.name)).items()
            if value not in known
        }
        categories[column.name] = list(column.vocabulary) + sorted(unknown)
        if unknown:
            summary.unknown_categories[column.name] = unknown
            listed = ", ".join(f"{v!r} ({n:,} rows)" for v, n in sorted(unknown.items())[:10])
            report.findings.append(
                Finding(
                    "warning",
                    name,
                    column.name,
                    f"{name}: column {column.name} has values outside the Kaggle vocabulary: "
                    f"{listed}; kept as extra categories",
                    count=sum(unknown.values()),
                )
            )
    return categories


def _value_counts(values: pa.ChunkedArray) -> dict[str, int]:
    """Counts of the non-null values of a dictionary column (counted on the indices)."""
    counts: dict[str, int] = {}
    for chunk in values.chunks:
        if len(chunk) == 0:
            continue
        indices = chunk.indices.to_numpy(zero_copy_only=False)
        valid = ~np.asarray(chunk.is_null())
        tally = np.bincount(indices[valid].astype(np.int64), minlength=len(chunk.dictionary))
        for value, count in zip(chunk.dictionary.to_pylist(), tally.tolist(), strict=True):
            if count:
                counts[value] = counts.get(value, 0) + count
    return counts


def check_values(name: str, table: pa.Table, src: Source, report: ValidationReport) -> None:
    if TARGET in table.column_names:
        target = table.column(TARGET)
        bad = pc.invert(pc.is_in(target, pa.array(TARGET_VALUES, pa.int64())))
        n_bad = pc.sum(bad).as_py() or 0
        if n_bad:
            row = pc.index(bad, True).as_py()
            report.findings.append(
                Finding(
                    "error",
                    name,
                    TARGET,
                    f"{name}: column TARGET must be 0 or 1 but has {n_bad:,} other values "
                    f"(first {target[row].as_py()!r} at {where(src, row)})",
                    count=n_bad,
                )
            )
    if "MONTHS_BALANCE" in table.column_names:
        positive = pc.sum(pc.greater(table.column("MONTHS_BALANCE"), 0)).as_py() or 0
        if positive:
            report.findings.append(
                Finding(
                    "warning",
                    name,
                    "MONTHS_BALANCE",
                    f"{name}: {positive:,} rows have MONTHS_BALANCE > 0 (expected <= 0)",
                    count=positive,
                )
            )


def check_keys(
    name: str,
    table: pa.Table,
    src: Source,
    summary: TableSummary,
    report: ValidationReport,
    parents: Parents,
) -> None:
    """Duplicate primary and natural keys, and foreign keys that point nowhere."""
    spec = TABLES[name]
    if spec.primary_key:
        _check_primary_key(name, table, src, summary, report, parents)
    if spec.natural_key:
        extra = _count_repeated_pairs(
            table.column(spec.natural_key[0]).to_numpy(),
            table.column(spec.natural_key[1]).to_numpy(),
        )
        summary.duplicate_keys = extra
        if extra:
            report.findings.append(
                Finding(
                    "warning",
                    name,
                    None,
                    f"{name}: {extra:,} rows repeat an existing ({', '.join(spec.natural_key)}) "
                    "pair; kept",
                    count=extra,
                )
            )
    for fk in spec.foreign_keys:
        _check_foreign_key(name, table, fk, summary, report, parents)


def _check_primary_key(
    name: str,
    table: pa.Table,
    src: Source,
    summary: TableSummary,
    report: ValidationReport,
    parents: Parents,
) -> None:
    """Duplicates of the primary key; keeps the keys the child tables are checked against."""
    spec = TABLES[name]
    ids = table.column(spec.primary_key).to_numpy()
    summary.duplicate_keys, ordered = _report_duplicates(name, spec.primary_key, ids, src, report)
    if spec.primary_key == "SK_ID_CURR":
        for other, other_ids in parents.clients.items():
            both = np.intersect1d(ordered, other_ids, assume_unique=True)
            if both.size:
                report.findings.append(
                    Finding(
                        "error",
                        name,
                        "SK_ID_CURR",
                        f"{name}: {both.size:,} SK_ID_CURR values also appear in {other} "
                        f"(e.g. {both[0]}); a client must be in one application file",
                        count=int(both.size),
                    )
                )
        parents.clients[name] = ordered
    elif name == "bureau":
        parents.bureau = ordered
    elif name == "previous_application":
        order = np.argsort(ids, kind="stable")
        parents.previous = ids[order]
        parents.previous_clients = table.column("SK_ID_CURR").to_numpy()[order]


def _check_foreign_key(
    name: str,
    table: pa.Table,
    fk: ForeignKey,
    summary: TableSummary,
    report: ValidationReport,
    parents: Parents,
) -> None:
    """Orphan rows, and rows whose client differs from their previous application's."""
    parent_keys = _parent_keys(fk.parents, parents)
    if parent_keys is None:
        return  # parent not loaded (or broken, which is already an error)
    child = table.column(fk.column).to_numpy()
    found = _contains(parent_keys, child)
    orphans = int(child.size - np.count_nonzero(found))
    summary.orphans[fk.column] = orphans
    if orphans:
        report.findings.append(
            Finding(
                "warning",
                name,
                fk.column,
                f"{name}: {orphans:,} of {child.size:,} rows have a {fk.column} that is not "
                f"in {' or '.join(fk.parents)} (orphans, kept)",
                count=orphans,
            )
        )
    if fk.column == "SK_ID_PREV" and TABLES[name].client_matches_previous:
        idx = np.searchsorted(parents.previous, child)[found]
        mismatch = int(
            np.count_nonzero(
                parents.previous_clients[idx] != table.column("SK_ID_CURR").to_numpy()[found]
            )
        )
        summary.client_mismatches = mismatch
        if mismatch:
            report.findings.append(
                Finding(
                    "warning",
                    name,
                    "SK_ID_CURR",
                    f"{name}: {mismatch:,} rows have an SK_ID_CURR different from the one "
                    "previous_application gives their SK_ID_PREV",
                    count=mismatch,
                )
            )


def _parent_keys(parent_tables: tuple[str, ...], parents: Parents) -> np.ndarray | None:
    if parent_tables == ("bureau",):
        return parents.bureau
    if parent_tables == ("previous_application",):
        return parents.previous
    loaded = [parents.clients[t] for t in parent_tables if t in parents.clients]
    if not loaded:
        return None
    return np.unique(np.concatenate(loaded)) if len(loaded) > 1 else loaded[0]


def _contains(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``sorted_keys`` (sorted, may be empty)."""
    if sorted_keys.size == 0:
        return np.zeros(values.shape, dtype=bool)
    idx = np.searchsorted(sorted_keys, values)
    idx[idx == sorted_keys.size] = 0
    return sorted_keys[idx] == values


def _report_duplicates(
    name: str, column: str, ids: np.ndarray, src: Source, report: ValidationReport
) -> tuple[int, np.ndarray]:
    """Report repeated primary keys; return their count and the sorted distinct keys."""
    ordered = np.sort(ids)
    repeat = ordered[1:] == ordered[:-1]
    distinct = ordered[np.concatenate([[True], ~repeat])] if ordered.size else ordered
    extra = int(np.count_nonzero(repeat))
    if not extra:
        return 0, distinct
    repeated = np.unique(ordered[1:][repeat])
    for value in repeated[:_MAX_LISTED]:
        rows = np.flatnonzero(ids == value)
        places = ", ".join(where(src, int(r)) for r in rows[:3])
        report.findings.append(
            Finding(
                "error",
                name,
                column,
                f"{name}: duplicate {column} {value} appears {rows.size} times: {places}",
            )
        )
    if repeated.size > _MAX_LISTED:
        report.findings.append(
            Finding(
                "error",
                name,
                column,
                f"{name}: {extra:,} rows repeat an existing {column} in total "
                f"({repeated.size:,} distinct values)",
                count=extra,
            )
        )
    return extra, distinct


def _count_repeated_pairs(first: np.ndarray, second: np.ndarray) -> int:
    """Rows whose (first, second) pair already appeared, without a hash table: the pair is
    packed into one int64 when it fits (ids < 2^44, months within +-2^19), then sorted."""
    if first.size < 2:
        return 0
    low, high = int(second.min()), int(second.max())
    if first.min() >= 0 and first.max() < 2**44 and low >= -(2**19) and high < 2**19:
        packed = (first.astype(np.int64) << 20) | (second.astype(np.int64) + 2**19)
        if not np.all(packed[1:] > packed[:-1]):  # already strictly increasing: no repeats
            packed.sort()
            return int(np.count_nonzero(packed[1:] == packed[:-1]))
        return 0
    frame = pl.DataFrame({"a": first, "b": second})
    return frame.height - frame.n_unique()
