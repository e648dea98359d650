"""The known-applicant history index: each history table sorted by client, memory-mapped.

``build_history_index`` writes ``history_index/`` inside a cache folder (``load_homecredit``
does it once, as part of the cache; an older cache gets it on first use). For each history
table it holds:

- ``<table>.arrow``: Arrow IPC (Feather v2), uncompressed, one record batch, the table's rows
  sorted by client and, within a client, in file order. Numbers keep their type (int64,
  float64 with NaN for missing); a text column is stored as int16 codes into the schema's
  vocabulary (-1: missing or a value outside it).
- ``<table>.clients.arrow``: each client with rows (``SK_ID_CURR`` ascending) and ``end``,
  the exclusive end of its rows (the start is the previous client's end): a CSR index.

``bureau_balance`` rows carry the SK_ID_CURR of their ``bureau`` row (via SK_ID_BUREAU);
rows whose credit is not in ``bureau`` are unreachable and left out. ``index.json`` is
written last, and the folder is built under a temporary name and renamed, so a reader sees
the whole index or none.

``HistoryIndex`` memory-maps the row files (the pages live in the page cache, shared by every
process on the machine, not in each process's heap) and reads a client's rows with one
binary search per table and zero-copy slices. The frames it returns are typed exactly as
``frames_from_records`` types rows (the online path's typing), see ``history_store``.
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
FORMAT_VERSION = 1
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
            column.name: _stored_column(column.kind, column.vocabulary, table, column.name)[order]
            for column in TABLES[name].columns
        }
        del table
        _write_ipc(out / f"{name}.arrow", pa.table(columns))
        keys, ends = _csr(clients)
        _write_ipc(out / f"{name}.clients.arrow", pa.table({_CLIENT: keys, "end": ends}))
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


def _write_ipc(path: Path, table: pa.Table) -> None:
    table = table.combine_chunks()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        # One record batch: every column is then one contiguous, zero-copy numpy view.
        writer.write_table(table, max_chunksize=max(table.num_rows, 1))


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    name: str
    offset: int  # of the column's values in the file
    dtype: np.dtype
    categories: pd.CategoricalDtype | None
    int_with_gaps: bool  # an integer column stored as float64 (hand-made caches only)


@dataclass(frozen=True)
class _TableIndex:
    path: Path
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

    A lookup reads each column's slice with ``os.pread`` at an offset found once, when the
    index is opened. The rows come from the kernel's page cache, shared by every process, and
    nothing stays mapped: a process's RSS does not grow with the lookups it has served. (A
    memory map reads as fast, but each page it touches, and the pages faulted in around it,
    count towards the RSS of every process until most of the 3 GB index at full scale is
    resident in each: ``bench/bench_history.py`` measures both.)
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

    def rows_of(self, table_name: str, sk_id_curr: int) -> pd.DataFrame:
        """This client's rows of one table, in file order (a zero-row frame if none)."""
        table = self._tables[table_name]
        start, stop = table.span(sk_id_curr)
        data = {}
        for column in table.columns:
            values = self._values(table_name, column, start, stop)
            if column.categories is not None:
                data[column.name] = pd.Categorical.from_codes(values, dtype=column.categories)
            elif column.int_with_gaps and not np.isnan(values).any():
                data[column.name] = values.astype(np.int64)  # as frames_from_records types it
            else:
                data[column.name] = values
        return pd.DataFrame(data, copy=True)

    def _values(self, table_name: str, column: _Column, start: int, stop: int) -> np.ndarray:
        size = column.dtype.itemsize
        raw = os.pread(self._files[table_name], (stop - start) * size, column.offset + start * size)
        return np.frombuffer(raw, dtype=column.dtype)

    def _open(self, name: str) -> _TableIndex:
        clients = _read_ipc(self.index_dir / f"{name}.clients.arrow")
        path = self.index_dir / f"{name}.arrow"
        with pa.memory_map(str(path), "r") as mapped:
            # Mapped only to find where each column's values start in the file.
            base = mapped.read_buffer(1).address
            mapped.seek(0)
            rows = pa.ipc.open_file(mapped).read_all()
            columns = tuple(
                _column_in_file(spec.name, spec.kind, spec.vocabulary, rows, base)
                for spec in TABLES[name].columns
            )
            del rows
        return _TableIndex(
            path=path,
            clients=clients.column(_CLIENT).to_numpy(),
            ends=clients.column("end").to_numpy(),
            columns=columns,
        )


def _column_in_file(
    name: str, kind: Kind, vocabulary: tuple[str, ...], rows: pa.Table, base: int
) -> _Column:
    column = rows.column(name)
    if column.num_chunks != 1 or column.null_count:
        raise ValueError(f"history index column {name} is not one chunk without nulls")
    array = column.chunk(0)
    dtype = np.dtype(array.type.to_pandas_dtype())
    return _Column(
        name=name,
        # An empty table may have no values buffer: nothing is ever read from it.
        offset=(array.buffers()[1].address - base + array.offset * dtype.itemsize)
        if len(array)
        else 0,
        dtype=dtype,
        categories=pd.CategoricalDtype(categories=list(vocabulary))
        if kind is Kind.CATEGORY
        else None,
        int_with_gaps=kind is Kind.INT and dtype.kind == "f",
    )


def _read_ipc(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()
