"""Reading one table into a typed Arrow table, naming every value that does not convert.

Used by :mod:`scoring.ml.data.load`; not a public API. A table is read in two passes only when it
is broken: the fast pass parses with the schema's types (multi-threaded Arrow CSV reader or
the Parquet reader); if a value does not convert, a second, diagnostic pass reads the
numbers as text and names every bad value with its row, so nothing is silently coerced.

Row numbers in messages count data rows from 1; for CSV the message also gives the file
line, where line 1 is the header (lines assume no quoted field spans several lines, which
holds for the Kaggle files).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring.ml.data.sources import MAX_EXAMPLES, Finding, ReadResult, Source, where
from scoring.ml.schema.tables import Column, Kind, Table

#: How many bad values of one column are quoted in full; the rest are counted.
_CSV_BLOCK = 8 << 20
_PROGRESS_EVERY = 5_000_000
_CATEGORY_TYPE = pa.dictionary(pa.int32(), pa.string())
_ARROW_TYPES = {Kind.INT: pa.int64(), Kind.FLOAT: pa.float64(), Kind.CATEGORY: _CATEGORY_TYPE}

Progress = Callable[[str], None]


def read_table(spec: Table, source: Source, progress: Progress | None = None) -> ReadResult:
    """Read and type one table. The header must already have passed :func:`check_header`."""
    if source.kind == "parquet":
        result = _read_parquet(spec, source, progress)
    else:
        result = _read_csv(spec, source, progress)
    if result.table is not None:
        result.table = result.table.select(list(spec.column_names))
        result.rows = result.table.num_rows
        result.findings.extend(_check_nulls(spec, result.table, source))
    return result


# --- CSV ---------------------------------------------------------------------------------


def _csv_options(
    spec: Table, numbers_as_text: bool
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    types = {
        c.name: (
            pa.string() if numbers_as_text and c.kind is not Kind.CATEGORY else _ARROW_TYPES[c.kind]
        )
        for c in spec.columns
    }
    return (
        pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=True),
        pacsv.ParseOptions(newlines_in_values=False),
        # Only an empty field is missing: "NA", "null" and friends are values, so a text
        # "NA" in a numeric column is reported rather than quietly read as missing.
        pacsv.ConvertOptions(
            column_types=types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            true_values=[],
            false_values=[],
        ),
    )


def _read_csv(spec: Table, source: Source, progress: Progress | None) -> ReadResult:
    read_opts, parse_opts, convert_opts = _csv_options(spec, numbers_as_text=False)
    batches: list[pa.RecordBatch] = []
    rows = 0
    next_report = _PROGRESS_EVERY
    try:
        with source.open_binary() as raw:
            reader = pacsv.open_csv(raw, read_opts, parse_opts, convert_opts)
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if progress and rows >= next_report:
                    progress(f"  {spec.name}: {rows:,} rows read")
                    next_report += _PROGRESS_EVERY
            schema = reader.schema
    except pa.ArrowInvalid as exc:
        if "conversion error" not in str(exc).lower():
            return ReadResult(None, findings=[_unreadable(spec, source, exc)])
        batches.clear()
        return _diagnose_csv(spec, source, progress, exc)
    except (OSError, EOFError, zipfile.BadZipFile, pa.ArrowException) as exc:
        return ReadResult(None, findings=[_unreadable(spec, source, exc)])
    return ReadResult(pa.Table.from_batches(batches, schema=schema))


def _diagnose_csv(
    spec: Table, source: Source, progress: Progress | None, cause: Exception
) -> ReadResult:
    """Second pass over a CSV whose numbers did not all convert: find every bad value."""
    if progress:
        progress(f"  {spec.name}: some values are not numbers; locating them")
    read_opts, parse_opts, convert_opts = _csv_options(spec, numbers_as_text=True)
    result = ReadResult(None)
    offset = 0
    with source.open_binary() as raw:
        for batch in pacsv.open_csv(raw, read_opts, parse_opts, convert_opts):
            for column in spec.columns:
                if column.kind is Kind.CATEGORY:
                    continue
                text = batch.column(column.name)
                _collect_bad_text(spec, column, text, offset, source, result)
            offset += batch.num_rows
    _summarise_bad(spec, source, result)
    if not result.unparsable:  # never pass silently: fall back to Arrow's own message
        result.findings.append(_unreadable(spec, source, cause))
    return result


# --- Parquet -----------------------------------------------------------------------------


def _read_parquet(spec: Table, source: Source, progress: Progress | None) -> ReadResult:
    try:
        parquet = pq.ParquetFile(source.path)
    except (pa.ArrowException, OSError) as exc:
        return ReadResult(None, findings=[_unreadable(spec, source, exc)])
    result = ReadResult(None)
    pieces: list[pa.Table] = []
    offset = 0
    next_report = _PROGRESS_EVERY
    for index in range(parquet.num_row_groups):
        try:
            group = parquet.read_row_group(index, columns=list(spec.column_names))
        except (pa.ArrowException, OSError) as exc:
            return ReadResult(None, findings=[_unreadable(spec, source, exc)])
        typed = []
        for column in spec.columns:
            typed.append(
                _cast_parquet(spec, column, group.column(column.name), offset, source, result)
            )
        offset += group.num_rows
        if progress and offset >= next_report:
            progress(f"  {spec.name}: {offset:,} rows read")
            next_report += _PROGRESS_EVERY
        if not result.unparsable:
            pieces.append(pa.table(typed, names=list(spec.column_names)))
    _summarise_bad(spec, source, result)
    if result.unparsable:
        return result
    if not pieces:  # a file without row groups: an empty table of the right types
        empty = [pa.array([], type=_ARROW_TYPES[c.kind]) for c in spec.columns]
        pieces.append(pa.table(empty, names=list(spec.column_names)))
    result.table = pa.concat_tables(pieces)
    return result


def _cast_parquet(
    spec: Table,
    column: Column,
    values: pa.ChunkedArray,
    offset: int,
    source: Source,
    result: ReadResult,
) -> pa.ChunkedArray:
    """Bring one Parquet column to the schema's type without changing any value."""
    target = _ARROW_TYPES[column.kind]
    kind = values.type
    if pa.types.is_dictionary(kind):
        if column.kind is Kind.CATEGORY and pa.types.is_string(kind.value_type):
            return values.cast(target)  # only the index width may change
        values = values.cast(kind.value_type)
        kind = values.type
    if column.kind is Kind.CATEGORY:
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.null()):
            _bad_type(spec, column, kind, source, result)
            return values
        return values.cast(pa.string()).dictionary_encode().cast(target)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        _collect_bad_text(spec, column, values.cast(pa.string()), offset, source, result)
        return values if column.name in result.unparsable else values.cast(target)
    if kind == pa.null():
        return pa.nulls(len(values), target)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        _bad_type(spec, column, kind, source, result)
        return values
    if column.kind is Kind.INT and pa.types.is_floating(kind):
        as_float = values.cast(pa.float64()).to_numpy()
        bad = np.flatnonzero(np.isfinite(as_float) & (as_float != np.round(as_float)))
        bad = np.union1d(bad, np.flatnonzero(np.isinf(as_float)))
        for row in bad:
            _record_bad(spec, column, offset + int(row), repr(float(as_float[row])), source, result)
        if bad.size:
            return values
        nulls = np.isnan(as_float)
        return pa.chunked_array(
            [pa.array(np.where(nulls, 0, as_float).astype(np.int64), mask=nulls)]
        )
    return values.cast(target)


def _bad_type(
    spec: Table, column: Column, kind: pa.DataType, source: Source, result: ReadResult
) -> None:
    result.unparsable[column.name] = result.unparsable.get(column.name, 0) + 1
    result.findings.append(
        Finding(
            "error",
            spec.name,
            column.name,
            f"{spec.name}: column {column.name} in {source.label} has type {kind}, "
            f"expected {column.kind.value}",
        )
    )


# --- shared helpers ----------------------------------------------------------------------


def _collect_bad_text(
    spec: Table,
    column: Column,
    text: pa.Array | pa.ChunkedArray,
    offset: int,
    source: Source,
    result: ReadResult,
) -> None:
    """Record every non-empty text value of ``column`` that is not a valid number."""
    target = _ARROW_TYPES[column.kind]
    try:
        text.cast(target)
        return
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    series = pl.Series(values=text).cast(pl.String)
    parsed = series.cast(pl.Int64 if column.kind is Kind.INT else pl.Float64, strict=False)
    candidates = (series.is_not_null() & parsed.is_null()).arg_true().to_list()
    found = False
    for row in candidates:
        value = series[row]
        try:  # confirm with Arrow's own parser, which the fast pass uses
            pa.array([value]).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            _record_bad(spec, column, offset + row, repr(value), source, result)
            found = True
    if not found:
        # Polars accepted what Arrow refused: fall back to one value at a time.
        for row, value in enumerate(series.to_list()):
            if value is None:
                continue
            try:
                pa.array([value]).cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                _record_bad(spec, column, offset + row, repr(value), source, result)


def _record_bad(
    spec: Table, column: Column, row0: int, value: str, source: Source, result: ReadResult
) -> None:
    count = result.unparsable.get(column.name, 0) + 1
    result.unparsable[column.name] = count
    if count <= MAX_EXAMPLES:
        expected = "an integer" if column.kind is Kind.INT else "a number"
        result.findings.append(
            Finding(
                "error",
                spec.name,
                column.name,
                f"{spec.name}: column {column.name}, {where(source, row0)}: "
                f"value {value} is not {expected}",
            )
        )


def _summarise_bad(spec: Table, source: Source, result: ReadResult) -> None:
    for name, count in result.unparsable.items():
        if count > MAX_EXAMPLES:
            result.findings.append(
                Finding(
                    "error",
                    spec.name,
                    name,
                    f"{spec.name}: column {name} has {count:,} unparsable values in "
                    f"{source.label} (first {MAX_EXAMPLES} listed above)",
                    count=count - MAX_EXAMPLES,
                )
            )


def _check_nulls(spec: Table, table: pa.Table, source: Source) -> Iterator[Finding]:
    """Empty values: an error in an integer column, a warning in a never-empty category."""
    for column in spec.columns:
        if column.nullable:
            continue
        values = table.column(column.name)
        missing = values.null_count
        if not missing:
            continue
        first = int(pc.index(pc.is_null(values), True).as_py())
        level = "error" if column.kind is Kind.INT else "warning"
        yield Finding(
            level,
            spec.name,
            column.name,
            f"{spec.name}: column {column.name} has {missing:,} empty values "
            f"(first at {where(source, first)}); it must always be filled",
            count=missing,
        )


def _unreadable(spec: Table, source: Source, exc: BaseException) -> Finding:
    return Finding("error", spec.name, None, f"{spec.name}: cannot read {source.label}: {exc}")
