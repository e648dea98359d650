"""Loading and validating the Home Credit tables; the typed Parquet cache.

Public API::

    build_cache(source, out, progress=None) -> ValidationReport
    load_tables(directory, tables=None) -> dict[str, pandas.DataFrame]

``build_cache`` reads the eight Kaggle tables from ``source`` (plain CSV, ``.csv.gz``, a
``.zip`` holding the CSV, or Parquet), checks each against :mod:`scoring.ml.schema.tables` and,
only if there is no error, writes ``<out>/<table>.parquet`` plus ``<out>/cache_manifest.json``
(schema version, rows, input checksums, the report) and ``<out>/history_index/``, the history
tables sorted by client for online look-ups (:mod:`scoring.ml.data.history_index`). It
writes into a temporary folder next to ``out`` and renames it at the end, so ``out`` is
either the old cache or the complete new one, never half of each.

What is an error (nothing is written, the command exits non-zero) and what is a warning:

============================================  ========  =====================================
finding                                        level     why
============================================  ========  =====================================
missing file, missing / unexpected column      error     the table cannot be trusted
text in a numeric column, empty integer        error     would be NaN or a crash in training
duplicate SK_ID_CURR / SK_ID_BUREAU /          error     joins would duplicate rows
SK_ID_PREV; a client in train and test
TARGET other than 0 / 1                        error     corrupts the label
columns in another order                       warning   reordered by name, no value changes
duplicate (id, MONTHS_BALANCE) in a monthly    warning   not a documented key; counted
table
orphan history rows (parent id absent)         warning   the full Kaggle files have them:
                                                         rows of clients outside the files,
                                                         bureau_balance rows whose credit is
                                                         not in bureau; counted, kept
SK_ID_CURR disagreeing with previous_          warning   counted, kept
application for the same SK_ID_PREV
category value outside the vocabulary,         warning   kept as an extra category
empty value in a never-empty category
============================================  ========  =====================================

Types in the returned DataFrames (the schema's ``Column.pandas_dtype``): integer columns are
``int64`` (never null), other numbers ``float64`` (NaN = missing), and text columns pandas
``category`` whose categories are the schema vocabulary in schema order, followed by any
unknown values met in the data (recorded in the manifest). The same categories are used for
every table and every load, so category codes are stable. Quirks such as
``DAYS_EMPLOYED = 365243`` are kept exactly as written (see :mod:`scoring.ml.schema.tables`).

The loader only looks at files named after the eight tables at the top of the folder, so
other files and sub-folders are ignored, except the generator's ``oracle/oracle.parquet``,
which is copied into the cache so that training from the cache can quote the oracle AUC.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scoring.ml.data.checks import (
    Parents,
    TableSummary,
    ValidationReport,
    check_categories,
    check_keys,
    check_values,
)
from scoring.ml.data.history_index import build_history_index
from scoring.ml.data.read import Progress, read_table
from scoring.ml.data.sources import (
    Finding,
    Source,
    SourceError,
    check_header,
    find_sources,
    read_header,
)
from scoring.ml.schema.tables import SCHEMA_VERSION, TABLE_NAMES, TABLES

CACHE_MANIFEST = "cache_manifest.json"
_MAX_LISTED = 5

__all__ = [
    "CACHE_MANIFEST",
    "DataValidationError",
    "TableSummary",
    "ValidationReport",
    "build_cache",
    "load_tables",
]


class DataValidationError(Exception):
    """The files do not match the schema; ``report`` says where."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        first = report.errors[:_MAX_LISTED]
        more = len(report.errors) - len(first)
        super().__init__("; ".join(first) + (f"; and {more} more error(s)" if more else ""))


# --- public API --------------------------------------------------------------------------


def build_cache(
    source: str | Path, out: str | Path, progress: Progress | None = None
) -> ValidationReport:
    """Validate the Kaggle files in ``source`` and, if valid, write the typed cache to ``out``.

    Returns the report in every case; when ``report.ok`` is false nothing was written and an
    existing cache in ``out`` is left untouched.
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    _check_out(source, out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    report = ValidationReport()
    manifest: dict = {"schema_version": SCHEMA_VERSION, "tables": {}}
    try:
        tmp.mkdir(parents=True)
        for name, table, src, categories in _validated_tables(
            source, TABLE_NAMES, report, progress
        ):
            if not report.ok:
                continue  # keep validating to report everything, but stop writing
            started = time.perf_counter()
            pq.write_table(
                table, tmp / f"{name}.parquet", compression="zstd", row_group_size=1 << 20
            )
            manifest["tables"][name] = {
                "file": f"{name}.parquet",
                "rows": table.num_rows,
                "categories": categories,
                "source": {"file": src.label, **_fingerprint(src.path)},
            }
            if progress:
                progress(f"  {name}: cache written in {time.perf_counter() - started:.1f} s")
        if not report.ok:
            return report
        # Known applicants' history for online scoring, built once here rather than by the
        # first process that looks an applicant up.
        build_history_index(
            tmp,
            {name: tmp / entry["file"] for name, entry in manifest["tables"].items()},
            progress,
        )
        oracle = source / "oracle" / "oracle.parquet"
        if oracle.is_file():
            # The generator's true PDs travel with its tables so metrics can quote the oracle.
            (tmp / "oracle").mkdir()
            shutil.copy2(oracle, tmp / "oracle" / "oracle.parquet")
            manifest["oracle"] = {"file": "oracle/oracle.parquet", **_fingerprint(oracle)}
        manifest["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        manifest["report"] = report.to_dict()
        (tmp / CACHE_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        _replace_dir(tmp, out)
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_tables(
    directory: str | Path, tables: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """The tables of ``directory`` as typed DataFrames, keyed by Kaggle table name.

    ``directory`` is a cache written by :func:`build_cache` (fast: Parquet only) or a folder
    of raw Kaggle files, which are then read and validated on the fly (foreign keys are only
    checked between the tables asked for). Raises :class:`DataValidationError` on errors.
    """
    directory = Path(directory)
    wanted = _wanted(tables)
    manifest_path = directory / CACHE_MANIFEST
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise DataValidationError(
                _single_error(
                    f"cache {directory} has schema version {manifest.get('schema_version')}, "
                    f"this code needs {SCHEMA_VERSION}: rebuild it with load_homecredit"
                )
            )
        out = {}
        for name in wanted:
            entry = manifest["tables"][name]
            table = pq.read_table(directory / entry["file"])
            out[name] = _to_pandas(name, table, entry["categories"])
        return out
    report = ValidationReport()
    frames = {
        name: _to_pandas(name, table, categories)
        for name, table, _, categories in _validated_tables(directory, wanted, report, None)
    }
    if not report.ok:
        raise DataValidationError(report)
    return frames


# --- validation pipeline -----------------------------------------------------------------


def _validated_tables(
    directory: Path, wanted: tuple[str, ...], report: ValidationReport, progress: Progress | None
) -> Iterator[tuple[str, pa.Table, Source, dict[str, list[str]]]]:
    """Read, type and check each table in turn, yielding the valid ones.

    Findings accumulate in ``report``. One table is held at a time (plus the key columns of
    parents), which bounds memory at full scale.
    """
    try:
        sources = find_sources(directory, wanted)
    except SourceError as exc:
        report.findings.append(Finding("error", "", None, str(exc)))
        return
    parents = Parents()
    for name in wanted:
        spec = TABLES[name]
        summary = report.tables.setdefault(name, TableSummary())
        src = sources[name]
        if isinstance(src, SourceError):
            report.findings.append(Finding("error", name, None, str(src)))
            continue
        summary.source = src.label
        started = time.perf_counter()
        if progress:
            progress(f"{name}: reading {src.label}")
        try:
            header_findings = check_header(spec, read_header(src))
        except SourceError as exc:
            report.findings.append(Finding("error", name, None, str(exc)))
            continue
        report.findings.extend(header_findings)
        if any(f.level == "error" for f in header_findings):
            continue
        result = read_table(spec, src, progress)
        report.findings.extend(result.findings)
        summary.unparsable = result.unparsable
        if result.table is None or any(f.level == "error" for f in result.findings):
            continue
        table = result.table.unify_dictionaries()
        summary.rows = table.num_rows
        categories = check_categories(name, table, summary, report)
        check_values(name, table, src, report)
        check_keys(name, table, src, summary, report, parents)
        if progress:
            progress(
                f"{name}: {table.num_rows:,} rows checked in {time.perf_counter() - started:.1f} s"
            )
        yield name, table, src, categories
        del table


# --- helpers -----------------------------------------------------------------------------


def _wanted(tables: Iterable[str] | None) -> tuple[str, ...]:
    if tables is None:
        return TABLE_NAMES
    asked = set(tables)
    unknown = asked - set(TABLE_NAMES)
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(sorted(unknown))}; known: {TABLE_NAMES}")
    return tuple(t for t in TABLE_NAMES if t in asked)  # parents before children


def _to_pandas(name: str, table: pa.Table, categories: dict[str, list[str]]) -> pd.DataFrame:
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    for column, values in categories.items():
        frame[column] = pd.Categorical(frame[column], categories=values)
    return frame


def _fingerprint(path: Path) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _check_out(source: Path, out: Path) -> None:
    if out == source or source.is_relative_to(out):
        raise ValueError(f"the cache folder {out} must not be, or contain, the source {source}")
    if out.exists() and not (
        out.is_dir() and (not any(out.iterdir()) or (out / CACHE_MANIFEST).is_file())
    ):
        raise ValueError(
            f"{out} exists and is not a CredScope cache (no {CACHE_MANIFEST}); "
            "choose another --out or remove it"
        )


def _replace_dir(tmp: Path, out: Path) -> None:
    """Swap the finished ``tmp`` in for ``out`` with renames (same parent folder)."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _single_error(message: str) -> ValidationReport:
    return ValidationReport(findings=[Finding("error", "", None, message)])
