"""Finding the Kaggle files of each table in a folder, and reading and checking headers.

Every finding names its table, and where it can, its file, row and column.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scoring.ml.schema.tables import Table

MAX_EXAMPLES = 5


class SourceError(Exception):
    """A table cannot be read at all (missing, ambiguous, unreadable, wrong header)."""


@dataclass(frozen=True)
class Source:
    """Where one table lives: a CSV (plain, .gz, or a member of a .zip) or a Parquet file."""

    table: str
    path: Path
    kind: str  # "csv" | "parquet"
    member: str | None = None  # name inside a zip archive

    @property
    def label(self) -> str:
        return f"{self.path.name}:{self.member}" if self.member else self.path.name

    def open_binary(self) -> io.RawIOBase | pa.NativeFile:
        if self.member is not None:
            return zipfile.ZipFile(self.path).open(self.member)
        compression = "gzip" if self.path.name.lower().endswith(".gz") else None
        return pa.input_stream(str(self.path), compression=compression)


@dataclass
class Finding:
    """One problem found in one column of one table."""

    level: str  # "error" | "warning"
    table: str
    column: str | None
    message: str
    count: int = 1


@dataclass
class ReadResult:
    table: pa.Table | None
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    unparsable: dict[str, int] = field(default_factory=dict)


def find_sources(directory: Path, tables: tuple[str, ...]) -> dict[str, Source | SourceError]:
    """Map each wanted table to its file, or to the reason it has none.

    Accepted names (case-insensitive): ``<table>.parquet``, ``<table>.csv``,
    ``<table>.csv.gz``, and ``<table>.csv`` inside any ``.zip`` in the folder (Kaggle's
    per-file ``<table>.csv.zip`` as well as the whole-competition archive).
    """
    if not directory.is_dir():
        raise SourceError(f"{directory} is not a folder")
    candidates: dict[str, list[Source]] = {t.lower(): [] for t in tables}
    names = {t.lower(): t for t in tables}
    for path in sorted(directory.iterdir()):
        lower = path.name.lower()
        if not path.is_file():
            continue
        for suffix, kind in ((".parquet", "parquet"), (".csv", "csv"), (".csv.gz", "csv")):
            stem = lower.removesuffix(suffix)
            if lower.endswith(suffix) and stem in names:
                candidates[stem].append(Source(names[stem], path, kind))
        if lower.endswith(".zip"):
            try:
                with zipfile.ZipFile(path) as archive:
                    members = archive.namelist()
            except zipfile.BadZipFile as exc:
                raise SourceError(f"{path.name} is not a readable zip archive: {exc}") from exc
            for member in members:
                base = member.rsplit("/", 1)[-1].lower()
                stem = base.removesuffix(".csv")
                if base.endswith(".csv") and stem in names:
                    candidates[stem].append(Source(names[stem], path, "csv", member))
    out: dict[str, Source | SourceError] = {}
    for key, found in candidates.items():
        table = names[key]
        if not found:
            out[table] = SourceError(
                f"missing file for table {table}: expected {table}.csv, {table}.csv.gz, "
                f"{table}.parquet or {table}.csv inside a .zip in {directory}"
            )
        elif len(found) > 1:
            listed = ", ".join(s.label for s in found)
            out[table] = SourceError(f"table {table} is found in several files: {listed}")
        else:
            out[table] = found[0]
    return out


def read_header(source: Source) -> list[str]:
    if source.kind == "parquet":
        try:
            return list(pq.ParquetFile(source.path).schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{source.label}: not a readable Parquet file ({exc})") from exc
    head = b""
    try:
        with source.open_binary() as raw:
            while b"\n" not in head:
                chunk = raw.read(1 << 16)
                if not chunk:
                    break
                head += chunk
        first = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig")
    except (OSError, UnicodeDecodeError, EOFError, zipfile.BadZipFile, pa.ArrowException) as exc:
        raise SourceError(f"{source.label}: cannot read the header ({exc})") from exc
    if not first.strip():
        raise SourceError(f"{source.label}: the file is empty (no header line)")
    return next(csv.reader([first]))


def check_header(spec: Table, header: list[str]) -> list[Finding]:
    """Errors for missing, unexpected or repeated columns; a warning for another order."""
    findings: list[Finding] = []
    expected = spec.column_names
    seen: set[str] = set()
    for name in header:
        if name in seen:
            findings.append(Finding("error", spec.name, name, f"column {name} appears twice"))
        seen.add(name)
    for name in expected:
        if name not in seen:
            findings.append(
                Finding("error", spec.name, name, f"{spec.name}: missing column {name}")
            )
    for name in header:
        if name not in expected:
            findings.append(
                Finding("error", spec.name, name, f"{spec.name}: unexpected column {name!r}")
            )
    if not findings and tuple(header) != expected:
        findings.append(
            Finding(
                "warning",
                spec.name,
                None,
                f"{spec.name}: columns are in a different order than Kaggle's; "
                "they are reordered to the schema's order",
            )
        )
    return findings


def where(source: Source, row0: int) -> str:
    """Human position of 0-based data row ``row0``."""
    if source.kind == "csv":
        return f"row {row0 + 1} (line {row0 + 2} of {source.label}, counting the header as line 1)"
    return f"row {row0 + 1} of {source.label} (counting data rows from 1)"
