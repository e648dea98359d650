"""One applicant's credit history, for scoring online.

Two sources give the same typed frames, so the features of an online row equal the batch
build's: `HistoryStore` looks a known SK_ID_CURR up in the history index that
`build_cache` writes beside the parquet cache (`history_index.py`), and
`frames_from_records` types rows a client sent inline.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.ml.data.history_index import (
    INDEX_DIR,
    HistoryIndex,
    TableColumns,
    build_history_index,
    index_is_current,
)
from scoring.ml.schema.tables import HISTORY_TABLES, TABLES, Kind

CACHE_MANIFEST = "cache_manifest.json"
logger = logging.getLogger(__name__)


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

    Lookups go through the cache's ``history_index`` (see
    :mod:`scoring.ml.data.history_index`), which ``load_homecredit`` builds with the cache.
    A cache written before the index existed gets it on first use: one process builds it
    (others wait on a lock file, then open the same index), written under a temporary name
    and renamed, so no process ever reads half an index.
    """

    LOCK = ".history_index.lock"

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)
        manifest = json.loads((self.cache_dir / CACHE_MANIFEST).read_text())
        self._files = {
            name: self.cache_dir / entry["file"]
            for name, entry in manifest["tables"].items()
            if name in HISTORY_TABLES
        }
        self._lock = threading.Lock()
        self._index: HistoryIndex | None = None

    @classmethod
    def open_if_present(cls, cache_dir: Path) -> HistoryStore | None:
        return cls(cache_dir) if (Path(cache_dir) / CACHE_MANIFEST).is_file() else None

    def history_for(self, sk_id_curr: int) -> dict[str, pd.DataFrame]:
        """Every history table's rows of this client, in file order (empty frames where none)."""
        index = self._opened()
        return {
            name: index.rows_of(name, sk_id_curr) if name in index.tables else empty_frame(name)
            for name in HISTORY_TABLES
        }

    def history_columns_for(self, sk_id_curr: int) -> dict[str, TableColumns | None]:
        """:meth:`history_for` as `TableColumns` (None for a table the index lacks): what
        scoring reads, without building six pandas frames a look-up."""
        index = self._opened()
        return {
            name: index.columns_of(name, sk_id_curr) if name in index.tables else None
            for name in HISTORY_TABLES
        }

    def _opened(self) -> HistoryIndex:
        with self._lock:
            if self._index is None:
                path = self.cache_dir / INDEX_DIR
                if not index_is_current(path):
                    self._build_once(path)
                self._index = HistoryIndex(path)
            return self._index

    def _build_once(self, path: Path) -> None:
        with (self.cache_dir / self.LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if index_is_current(path):
                return  # another process built it while this one waited
            logger.warning(
                "the data cache %s has no history index: building it now "
                "(load_homecredit builds it with the cache)",
                self.cache_dir,
            )
            build_history_index(self.cache_dir, self._files)
