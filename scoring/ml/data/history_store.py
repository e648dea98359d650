"""One applicant's credit history, for scoring online.

Two sources give the same typed frames, so the features of an online row equal the batch
build's: `HistoryStore` looks a known SK_ID_CURR up in the parquet cache that
`build_cache` writes (DuckDB reads only the row groups it needs), and
`frames_from_records` types rows a client sent inline.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.ml.schema.tables import HISTORY_TABLES, TABLES, Kind

CACHE_MANIFEST = "cache_manifest.json"


def empty_frame(table_name: str) -> pd.DataFrame:
    """A zero-row frame with the table's columns and dtypes."""
    return frames_from_records(table_name, [])


def frames_from_records(table_name: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows (column -> value; absent = missing) as a frame typed like the batch loader's.

    Integer columns that have a gap become float64 here, as pandas would read them; the
    feature code treats both alike.
    """
    table = TABLES[table_name]
    data: dict[str, Any] = {}
    for column in table.columns:
        values = [_missing_to_none(row.get(column.name)) for row in rows]
        if column.kind is Kind.CATEGORY:
            data[column.name] = pd.Categorical(values, categories=list(column.vocabulary))
        elif column.kind is Kind.INT and all(v is not None for v in values):
            data[column.name] = np.asarray(values, dtype="int64")
        else:
            data[column.name] = np.asarray(
                [np.nan if v is None else v for v in values], dtype="float64"
            )
    return pd.DataFrame(data, columns=list(table.column_names))


def _missing_to_none(value: Any) -> Any:
    return None if value is None or (np.isscalar(value) and pd.isna(value)) else value


class HistoryStore:
    """Known applicants' history from a parquet cache directory (thread-safe, lazy).

    The first use builds `history.duckdb` beside the cache: each history table sorted and
    indexed by client (bureau_balance carries its bureau row's SK_ID_CURR), so a lookup
    reads a few pages instead of scanning parquet files. It is written to a temporary
    file and renamed, so concurrent processes never see half a database.
    """

    DATABASE = "history.duckdb"

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)
        manifest = json.loads((self.cache_dir / CACHE_MANIFEST).read_text())
        self._files = {
            name: self.cache_dir / entry["file"]
            for name, entry in manifest["tables"].items()
            if name in HISTORY_TABLES
        }
        self._lock = threading.Lock()
        self._connection = None

    @classmethod
    def open_if_present(cls, cache_dir: Path) -> HistoryStore | None:
        return cls(cache_dir) if (Path(cache_dir) / CACHE_MANIFEST).is_file() else None

    def history_for(self, sk_id_curr: int) -> dict[str, pd.DataFrame]:
        """Every history table's rows of this client (empty frames where none)."""
        frames = {}
        with self._lock:
            connection = self._connect()
            for name in HISTORY_TABLES:
                if name not in self._files:
                    frames[name] = empty_frame(name)
                    continue
                columns = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
                names = TABLES[name].column_names
                # fetchall, not fetch_df: pandas conversion costs ~30 ms a query, rows ~1 ms.
                rows = connection.execute(
                    f'SELECT {columns} FROM "{name}" WHERE _client = ? ORDER BY _row',  # noqa: S608 - names come from the schema
                    [int(sk_id_curr)],
                ).fetchall()
                frames[name] = frames_from_records(
                    name, [dict(zip(names, r, strict=True)) for r in rows]
                )
        return frames

    def _connect(self):
        if self._connection is None:
            import duckdb  # heavy optional library: only processes that look history up

            path = self.cache_dir / self.DATABASE
            if not path.exists():
                self._build(path)
            self._connection = duckdb.connect(str(path), read_only=True)
        return self._connection

    def _build(self, path: Path) -> None:
        import duckdb  # heavy optional library: only processes that look history up

        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        with duckdb.connect(str(tmp)) as connection:
            for name, file in self._files.items():
                if name == "bureau_balance":
                    continue
                connection.execute(
                    f'CREATE TABLE "{name}" AS SELECT *, SK_ID_CURR AS _client, '  # noqa: S608
                    "row_number() OVER () AS _row FROM read_parquet(?) ORDER BY _client, _row",
                    [str(file)],
                )
            if "bureau_balance" in self._files and "bureau" in self._files:
                connection.execute(
                    'CREATE TABLE "bureau_balance" AS SELECT bb.*, b.SK_ID_CURR AS _client, '
                    "bb._row FROM (SELECT *, row_number() OVER () AS _row FROM read_parquet(?)) bb "
                    'JOIN "bureau" b USING (SK_ID_BUREAU) ORDER BY _client, bb._row',
                    [str(self._files["bureau_balance"])],
                )
            for name in self._files:
                connection.execute(f'CREATE INDEX "{name}_client" ON "{name}" (_client)')
        os.replace(tmp, path)
