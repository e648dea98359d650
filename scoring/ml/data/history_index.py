"""The known-applicant history index: each history table's rows, sorted by client.

``build_history_index`` writes ``history_index/`` inside a cache folder (``load_homecredit``
does it once, as part of the cache; an older cache gets it on first use). For each history
table it holds:

- ``<table>.rows.npy``: the table's rows as packed numpy records (one record a row, the
  schema's columns in order), sorted by client and, within a client, in file order.
  Numbers keep their type (int64, float64 with NaN for missing); a text column is stored
  as int16 codes into the schema's vocabulary (-1: missing or a value outside it).
- ``<table>.clients.npy`` and ``<table>.ends.npy``: each client with rows (SK_ID_CURR
  ascending) and the exclusive end of its rows (the start is the previous client's end):
  a CSR index, small enough to hold in memory (16 bytes a client).

``bureau_balance`` rows carry the SK_ID_CURR of their ``bureau`` row (via SK_ID_BUREAU);
rows whose credit is not in ``bureau`` are unreachable and left out. ``index.json`` is
written last, and the folder is built under a temporary name and renamed, so a reader sees
the whole index or none.

Rows, not columns: a client's rows of a table are then one contiguous byte range, one read
and usually one page, where a column-per-array layout (Arrow IPC, measured first) touches
~100 pages a look-up and, when the page cache does not hold the whole 3 GB index, pays a
disk read for most look-ups (``bench/bench_history.py``). The frames ``HistoryIndex``
returns are typed exactly as ``frames_from_records`` types rows (the online path's typing).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scoring.ml.schema.tables import HISTORY_TABLES, TABLES, Kind

INDEX_DIR = "history_index"
INDEX_MANIFEST = "index.json"
#: Bump when the files' layout changes: an index of another version is rebuilt.
FORMAT_VERSION = 2
_CLIENT = "SK_ID_CURR"
_MISSING_CODE = -1

Progress = Callable[[str], None]


# --- building ------------------------------------------------------------------------------


def build_history_index(
    cache_dir: Path, files: Mapping[str, Path], progress: Progress | None = None
) -> Path:
    """Write ``cache_dir/history_index`` from the history tables' parquet ``files``.

    Built in a temporary folder beside it and renamed into place. If another process renamed
    its own index in first, that one is kept (they hold the same rows) and this one dropped.
    """
    cache_dir = Path(cache_dir)
    final = cache_dir / INDEX_DIR
    tmp = cache_dir / f".{INDEX_DIR}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        manifest = _write_tables(tmp, files, progress)
        (tmp / INDEX_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if final.exists() and not index_is_current(final):
            stale = cache_dir / f".{INDEX_DIR}.old-{uuid.uuid4().hex[:8]}"
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            tmp.rename(final)
        except OSError:
            if not index_is_current(final):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def index_is_current(index_dir: Path) -> bool:
    """A complete index of this format (its manifest is written last)."""
    try:
        manifest = json.loads((Path(index_dir) / INDEX_MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("format_version") == FORMAT_VERSION


def _write_tables(out: Path, files: Mapping[str, Path], progress: Progress | None) -> dict:
    manifest: dict = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {},
    }
    bureau_clients: tuple[np.ndarray, np.ndarray] | None = None
    for name in HISTORY_TABLES:  # bureau before bureau_balance
        if name not in files or (name == "bureau_balance" and bureau_clients is None):
            continue
        started = time.perf_counter()
        table = pq.read_table(files[name])
        if name == "bureau_balance":
            clients, reachable = _clients_of_credits(table, *bureau_clients)
            if not reachable.all():  # orphan credits: the full Kaggle files have them
                table = table.filter(pa.array(reachable))
                clients = clients[reachable]
        else:
            clients = _as_int64(table.column(_CLIENT))
        if name == "bureau":
            bureau_clients = (_as_int64(table.column("SK_ID_BUREAU")), clients)
        order = np.argsort(clients, kind="stable")  # a client's rows stay in file order
        clients = clients[order]
        columns = {
            column.name: _stored_column(column.kind, column.vocabulary, table, column.name)
            for column in TABLES[name].columns
        }
        del table
        records = np.empty(len(order), dtype=[(n, v.dtype) for n, v in columns.items()])
        for column_name in list(columns):
            records[column_name] = columns.pop(column_name)[order]
        np.save(out / f"{name}.rows.npy", records, allow_pickle=False)
        del records
        keys, ends = _csr(clients)
        np.save(out / f"{name}.clients.npy", keys, allow_pickle=False)
        np.save(out / f"{name}.ends.npy", ends, allow_pickle=False)
        manifest["tables"][name] = {"rows": len(clients), "clients": len(keys)}
        if progress:
            progress(
                f"  {name}: history index of {len(clients):,} rows, {len(keys):,} clients "
                f"in {time.perf_counter() - started:.1f} s"
            )
    return manifest


def _clients_of_credits(
    table: pa.Table, bureau_ids: np.ndarray, bureau_clients: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each bureau_balance row's client through its SK_ID_BUREAU, and whether it has one."""
    by_id = np.argsort(bureau_ids, kind="stable")
    sorted_ids = bureau_ids[by_id]
    wanted = _as_int64(table.column("SK_ID_BUREAU"))
    at = np.minimum(np.searchsorted(sorted_ids, wanted), max(len(sorted_ids) - 1, 0))
    if len(sorted_ids) == 0:
        return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    reachable = sorted_ids[at] == wanted
    return bureau_clients[by_id[at]], reachable


def _stored_column(
    kind: Kind, vocabulary: tuple[str, ...], table: pa.Table, name: str
) -> np.ndarray:
    """One column as the index stores it (see the module docstring)."""
    if name not in table.column_names:  # a hand-made cache may leave a column out
        if kind is Kind.CATEGORY:
            return np.full(table.num_rows, _MISSING_CODE, dtype=np.int16)
        return np.full(table.num_rows, np.nan)
    column = table.column(name)
    if kind is Kind.CATEGORY:
        return _codes(column, vocabulary)
    if kind is Kind.INT and column.null_count == 0:
        return _as_int64(column)
    # float64 with NaN; an integer column with gaps (never in a validated cache) too.
    return column.cast(pa.float64()).to_numpy().astype(np.float64, copy=False)


def _codes(column: pa.ChunkedArray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Positions in ``vocabulary`` (-1 for missing and for values outside it)."""
    value_set = pa.array(vocabulary, pa.string())
    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            # Map the few dictionary values, not the millions of rows (bureau_balance STATUS).
            mapping = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=value_set)
            positions = mapping.take(chunk.indices)
        else:
            positions = pc.index_in(chunk.cast(pa.string()), value_set=value_set)
        parts.append(positions.fill_null(_MISSING_CODE).to_numpy().astype(np.int16))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def _as_int64(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(pa.int64()).to_numpy()


def _csr(sorted_clients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct clients and the exclusive end of each one's rows."""
    if len(sorted_clients) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    boundaries = np.flatnonzero(np.diff(sorted_clients)) + 1
    keys = sorted_clients[np.concatenate(([0], boundaries))]
    ends = np.concatenate((boundaries, [len(sorted_clients)])).astype(np.int64)
    return keys, ends


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableColumns:
    """One client's rows of one table, column by column: numbers (keys too) as float64 with
    NaN for missing, categories as their labels (str, None for missing). The one-applicant
    feature path reads these as they are; anything else takes `records()`."""

    columns: dict[str, np.ndarray]
    n: int

    def __len__(self) -> int:
        return self.n

    def records(self) -> list[dict[str, object]]:
        """The rows as records (numbers as float, text as str or None)."""
        names = list(self.columns)
        lists = [self.columns[name].tolist() for name in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


@dataclass(frozen=True)
class _Column:
    name: str
    categories: pd.CategoricalDtype | None
    int_with_gaps: bool  # an integer column stored as float64 (hand-made caches only)

    @cached_property
    def labels(self) -> np.ndarray:
        """The categories' labels by code, then None: indexed by the codes, the missing code
        (-1) picks None. Built once per opened index, not per look-up."""
        assert self.categories is not None
        return np.array([*self.categories.categories, None], dtype=object)


@dataclass(frozen=True)
class _TableIndex:
    path: Path
    offset: int  # where the records start in the file (after the .npy header)
    dtype: np.dtype  # one record: the table's columns, packed
    clients: np.ndarray  # distinct SK_ID_CURR, ascending (in memory: 16 bytes a client)
    ends: np.ndarray  # exclusive end of each client's rows
    columns: tuple[_Column, ...]

    def span(self, sk_id_curr: int) -> tuple[int, int]:
        at = int(np.searchsorted(self.clients, sk_id_curr))
        if at == len(self.clients) or self.clients[at] != sk_id_curr:
            return 0, 0
        return (int(self.ends[at - 1]) if at else 0), int(self.ends[at])


class HistoryIndex:
    """Read-only, thread-safe reader of a built ``history_index`` folder.

    A client's rows of a table are one contiguous run of records, read with one ``os.pread``:
    six reads a look-up, usually one page each. They come from the kernel's page cache,
    shared by every process, and nothing stays mapped, so a process's RSS does not grow with
    the look-ups it serves. (A memory map reads as fast when the pages are cached, but every
    page it touches, and those faulted in around it, count towards each process's RSS until
    most of the 3 GB index at full scale is resident in each: ``bench/bench_history.py``
    measures both, and a column-per-file layout, which needs ~100 reads a look-up.)
    """

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        manifest = json.loads((self.index_dir / INDEX_MANIFEST).read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{self.index_dir} has format {manifest.get('format_version')}, "
                f"this code reads {FORMAT_VERSION}"
            )
        self._tables = {name: self._open(name) for name in manifest["tables"]}
        self._files = {
            name: os.open(table.path, os.O_RDONLY) for name, table in self._tables.items()
        }

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files = {}

    def columns_of(self, table_name: str, sk_id_curr: int) -> TableColumns:
        """This client's rows of one table as columns, in file order, without a pandas frame
        (one applicant's six frames cost 2.5 of a look-up's 2.6 ms on 2 cores)."""
        table = self._tables[table_name]
        records = self._records(table_name, *table.span(sk_id_curr))
        columns = {}
        for column in table.columns:
            values = records[column.name]
            if column.categories is not None:
                columns[column.name] = column.labels[values]
            else:
                columns[column.name] = values.astype(np.float64)
        return TableColumns(columns, len(records))

    def rows_of(self, table_name: str, sk_id_curr: int) -> pd.DataFrame:
        """This client's rows of one table, in file order (a zero-row frame if none)."""
        table = self._tables[table_name]
        start, stop = table.span(sk_id_curr)
        records = self._records(table_name, start, stop)
        data = {}
        for column in table.columns:
            values = records[column.name]
            if column.categories is not None:
                data[column.name] = pd.Categorical.from_codes(values, dtype=column.categories)
            elif column.int_with_gaps and not np.isnan(values).any():
                data[column.name] = values.astype(np.int64)  # as frames_from_records types it
            else:
                data[column.name] = values
        # copy=True: the frame owns contiguous columns, not strided views of the records.
        return pd.DataFrame(data, copy=True)

    def _records(self, table_name: str, start: int, stop: int) -> np.ndarray:
        table = self._tables[table_name]
        size = table.dtype.itemsize
        raw = os.pread(self._files[table_name], (stop - start) * size, table.offset + start * size)
        return np.frombuffer(raw, dtype=table.dtype)

    def _open(self, name: str) -> _TableIndex:
        path = self.index_dir / f"{name}.rows.npy"
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(handle)
            offset = handle.tell()
        if fortran_order or len(shape) != 1:
            raise ValueError(f"{path} is not a history index table")
        columns = tuple(
            _Column(
                name=spec.name,
                categories=pd.CategoricalDtype(categories=list(spec.vocabulary))
                if spec.kind is Kind.CATEGORY
                else None,
                int_with_gaps=spec.kind is Kind.INT and dtype[spec.name].kind == "f",
            )
            for spec in TABLES[name].columns
        )
        return _TableIndex(
            path=path,
            offset=offset,
            dtype=dtype,
            clients=np.load(self.index_dir / f"{name}.clients.npy"),
            ends=np.load(self.index_dir / f"{name}.ends.npy"),
            columns=columns,
        )
