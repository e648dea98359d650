"""Known-applicant history look-ups: the index options side by side; prints one JSON object.

Options, each measured in a process of its own (so its RSS is its own):

- `duckdb`: the store before issue 15: `history.duckdb` (each history table sorted by client
  with an index on it), rows fetched and typed with `frames_from_records`.
- `mmap`: the `history_index` files (each table's rows as packed records sorted by client,
  CSR offsets per client) memory-mapped, a client's rows sliced zero-copy.
- `store`: the same files, a client's rows of a table read with one `os.pread`, through
  `HistoryStore.history_columns_for`, the look-up the web and worker processes score with
  (the chosen option; its index is the cache's own, built by `load_homecredit`): columns,
  not pandas frames, which cost 2.5 of the 2.6 ms a look-up took.

(A first version of the index kept each table as Arrow IPC, one array per column, read
with a `pread` per column: 1.6 ms p50 on a quiet machine with the index in the page cache,
but ~100 pages a look-up, so 12.7 ms p50, and 37 ms for an id's first look-up, once part
of the index had left the page cache on the shared machine. Rows per client are one read.)

For each: build seconds and peak RSS, size on disk, open time, look-up p50/p99 with the
store's files dropped from the page cache first (`cold_page_cache`, the first 200 look-ups,
as after a reboot; only these files are dropped) and then read into it (`with_history`,
known applicants with some history, and `without_history`, known applicants with none: a
serving machine's steady state; `cpu_p50_ms` is the look-up's own CPU time, which a
loaded machine does not stretch as it does wall time), and the process's RSS after the
look-ups (VmRSS, split into RssAnon, the process's own memory, and RssFile, mapped file
pages). `identical` compares every option's frames with the `store`'s for a sample of ids
(dtypes included).

    .venv/bin/python bench/bench_history.py --cache /work/data/s1/cache \\
        [--work DIR] [--lookups 5000] [--options duckdb,mmap,store] [--no-build]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scoring.ml.data.history_index import INDEX_DIR, HistoryIndex, build_history_index  # noqa: E402
from scoring.ml.data.history_store import (  # noqa: E402
    CACHE_MANIFEST,
    HistoryStore,
    frames_from_records,
)
from scoring.ml.schema.tables import HISTORY_TABLES, TABLES  # noqa: E402

OPTIONS = ("duckdb", "mmap", "store")
FULL_SCALE_APPLICANTS = 307_511  # application_train rows at scale 1.0 (Kaggle's size)


def log(message: str) -> None:
    print(f"[bench_history] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rss() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {
        "vm_rss_mb": fields["VmRSS"],
        "anon_mb": fields["RssAnon"],
        "file_mb": fields["RssFile"],
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def disk_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def history_files(cache: Path) -> dict[str, Path]:
    manifest = json.loads((cache / CACHE_MANIFEST).read_text())
    return {
        name: cache / entry["file"]
        for name, entry in manifest["tables"].items()
        if name in HISTORY_TABLES
    }


# --- option (a): the DuckDB database the store used before issue 15 ------------------------


def build_duckdb(files: dict[str, Path], path: Path) -> None:
    import duckdb

    # Bounded here (the store had no limit: DuckDB's default is 80% of the machine's RAM).
    config = {"memory_limit": "4GB", "threads": 2}
    with duckdb.connect(str(path), config=config) as connection:
        for name, file in files.items():
            if name == "bureau_balance":
                continue
            connection.execute(
                f'CREATE TABLE "{name}" AS SELECT *, SK_ID_CURR AS _client, '  # noqa: S608
                "row_number() OVER () AS _row FROM read_parquet(?) ORDER BY _client, _row",
                [str(file)],
            )
        connection.execute(
            'CREATE TABLE "bureau_balance" AS SELECT bb.*, b.SK_ID_CURR AS _client, '
            "bb._row FROM (SELECT *, row_number() OVER () AS _row FROM read_parquet(?)) bb "
            'JOIN "bureau" b USING (SK_ID_BUREAU) ORDER BY _client, bb._row',
            [str(files["bureau_balance"])],
        )
        for name in files:
            connection.execute(f'CREATE INDEX "{name}_client" ON "{name}" (_client)')


class DuckDBHistory:
    def __init__(self, path: Path) -> None:
        import duckdb

        self.connection = duckdb.connect(str(path), read_only=True)

    def history_for(self, sk_id_curr: int) -> dict[str, pd.DataFrame]:
        frames = {}
        for name in HISTORY_TABLES:
            names = TABLES[name].column_names
            columns = ", ".join(f'"{c}"' for c in names)
            rows = self.connection.execute(
                f'SELECT {columns} FROM "{name}" WHERE _client = ? ORDER BY _row',  # noqa: S608
                [int(sk_id_curr)],
            ).fetchall()
            frames[name] = frames_from_records(
                name, [dict(zip(names, r, strict=True)) for r in rows]
            )
        return frames


# --- option (b): the same index files, memory-mapped -----------------------------------------


class MappedIndex(HistoryIndex):
    """`HistoryIndex` reading slices of a memory map instead of `os.pread`."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(index_dir)
        self._maps = {
            name: np.load(self.index_dir / f"{name}.rows.npy", mmap_mode="r")
            for name in self.tables
        }

    def _records(self, table_name: str, start: int, stop: int) -> np.ndarray:
        return self._maps[table_name][start:stop]

    def history_for(self, sk_id_curr: int) -> dict[str, pd.DataFrame]:
        return {name: self.rows_of(name, sk_id_curr) for name in HISTORY_TABLES}


# --- children ----------------------------------------------------------------------------------


def child_build(option: str, cache: Path, work: Path) -> dict[str, Any]:
    files = history_files(cache)
    started = time.perf_counter()
    if option == "duckdb":
        target = work / "history.duckdb"
        target.unlink(missing_ok=True)
        build_duckdb(files, target)
    else:
        target = work / INDEX_DIR
        shutil.rmtree(target, ignore_errors=True)
        build_history_index(work, files)
    return {
        "build_s": round(time.perf_counter() - started, 1),
        "build_peak_rss_mb": peak_rss_mb(),
        "disk_mb": disk_mb(target),
    }


def opener(option: str, cache: Path, work: Path):
    if option == "duckdb":
        return DuckDBHistory(work / "history.duckdb")
    if option == "mmap":
        return MappedIndex(work / INDEX_DIR)
    store = HistoryStore(cache)
    store.history_for(-1)  # opens the index (building it first if the cache has none)
    return store


def store_files(option: str, cache: Path, work: Path) -> list[Path]:
    if option == "duckdb":
        return [work / "history.duckdb"]
    folder = (cache if option == "store" else work) / INDEX_DIR
    return sorted(folder.glob("*.npy"))


def page_cache(files: list[Path], *, keep: bool) -> None:
    """Read `files` into the kernel's page cache, or drop them from it (these files only)."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            if keep:
                offset = 0
                while chunk := os.pread(fd, 8 << 20, offset):
                    offset += len(chunk)
            else:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def child_lookups(option: str, cache: Path, work: Path, ids_file: Path) -> dict[str, Any]:
    """Cold: the store's files dropped from the page cache (as after a reboot), the first
    look-ups timed. Warm: the files read into the page cache first (a serving machine's
    steady state), every look-up timed."""
    ids = json.loads(ids_file.read_text())
    files = store_files(option, cache, work)
    page_cache(files, keep=False)
    before = rss()
    started = time.perf_counter()
    store = opener(option, cache, work)
    opened_ms = (time.perf_counter() - started) * 1000
    # The store is timed on the look-up scoring makes; the other options give frames.
    lookup = store.history_columns_for if option == "store" else store.history_for
    cold = []
    for sk in ids["with"][-200:]:
        started = time.perf_counter()
        lookup(sk)
        cold.append((time.perf_counter() - started) * 1000)
    page_cache(files, keep=True)
    for sk in ids["with"][:50]:  # first-call costs (imports, caches) are not a look-up's
        lookup(sk)
    timings: dict[str, list[float]] = {"with": [], "without": []}
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    rows = 0
    for kind in ("with", "without"):
        for sk in ids[kind]:
            started, started_cpu = time.perf_counter(), time.thread_time()
            frames = lookup(sk)
            timings[kind].append((time.perf_counter() - started) * 1000)
            cpu[kind].append((time.thread_time() - started_cpu) * 1000)
            rows += sum(len(f) for f in frames.values() if f is not None)
    return {
        "open_ms": round(opened_ms, 1),
        "cold_page_cache": {
            "lookups": len(cold),
            "p50_ms": round(percentile(cold, 50), 3),
            "p99_ms": round(percentile(cold, 99), 3),
        },
        "with_history": {
            "lookups": len(timings["with"]),
            "p50_ms": round(percentile(timings["with"], 50), 3),
            "p99_ms": round(percentile(timings["with"], 99), 3),
            "cpu_p50_ms": round(percentile(cpu["with"], 50), 3),
            "mean_rows": round(rows / max(len(timings["with"]), 1), 1),
        },
        "without_history": {
            "lookups": len(timings["without"]),
            "p50_ms": round(percentile(timings["without"], 50), 3),
            "p99_ms": round(percentile(timings["without"], 99), 3),
            "cpu_p50_ms": round(percentile(cpu["without"], 50), 3),
        },
        "rss_before": before,
        "rss_after": rss(),
    }


def child_compare(options: list[str], cache: Path, work: Path, ids_file: Path) -> dict[str, Any]:
    """Frames of each option against the store's, dtypes and categories included."""
    ids = json.loads(ids_file.read_text())
    sample = ids["with"][:300] + ids["without"][:50]
    reference = opener("store", cache, work)
    out = {}
    for option in options:
        if option == "store":
            continue
        other = opener(option, cache, work)
        mismatches = 0
        for sk in sample:
            expected, got = reference.history_for(sk), other.history_for(sk)
            for name in HISTORY_TABLES:
                try:
                    pd.testing.assert_frame_equal(got[name], expected[name], check_dtype=True)
                except AssertionError:
                    mismatches += 1
        out[option] = {"ids": len(sample), "tables_differing": mismatches}
    return out


def run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the sample of ids --------------------------------------------------------------------------


def sample_ids(cache: Path, work: Path, lookups: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """Known applicants with some history, and known applicants with none (unknown ids make
    up the number if the data has too few of those)."""
    train, test = (
        pq.read_table(cache / f"{name}.parquet", columns=["SK_ID_CURR"]).column(0).to_numpy()
        for name in ("application_train", "application_test")
    )
    applicants = np.concatenate([train, test])
    index = HistoryIndex(cache / INDEX_DIR) if (cache / INDEX_DIR).is_dir() else None
    if index is None:
        index = HistoryIndex(work / INDEX_DIR)
    with_history = np.zeros(len(applicants), dtype=bool)
    for table in index._tables.values():
        with_history |= np.isin(applicants, table.clients)
    index.close()
    rng = np.random.default_rng(seed)
    having = rng.choice(applicants[with_history], size=lookups, replace=True)
    lacking = applicants[~with_history]
    without_count = max(lookups // 5, 1)
    if len(lacking) >= without_count:
        lacking = rng.choice(lacking, size=without_count, replace=False)
    else:
        extra = int(applicants.max()) + 1 + np.arange(without_count - len(lacking))
        lacking = np.concatenate([lacking, extra])
    ids = {"with": [int(i) for i in having], "without": [int(i) for i in lacking]}
    path = work / "ids.json"
    path.write_text(json.dumps(ids))
    facts = {
        "applicants": len(applicants),
        "scale": round(len(train) / FULL_SCALE_APPLICANTS, 3),
        "applicants_with_history": int(with_history.sum()),
    }
    return path, facts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, help="a data cache (load_homecredit --out)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: beside the cache)")
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--options", default=",".join(OPTIONS))
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--no-build", action="store_true", help="reuse the options' files in --work"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, option, cache, work, *rest = args.child
        cache, work = Path(cache), Path(work)
        if kind == "build":
            out = child_build(option, cache, work)
        elif kind == "lookups":
            out = child_lookups(option, cache, work, Path(rest[0]))
        else:
            out = child_compare(option.split(","), cache, work, Path(rest[0]))
        print(json.dumps(out))
        return

    if args.cache is None or not (args.cache / CACHE_MANIFEST).is_file():
        parser.error("--cache must be a data cache folder (with cache_manifest.json)")
    options = [o for o in args.options.split(",") if o]
    if unknown := set(options) - set(OPTIONS):
        parser.error(f"unknown options {sorted(unknown)}; choose from {OPTIONS}")
    cache = args.cache.resolve()
    work = (args.work or cache.parent / f"{cache.name}-bench-history").resolve()
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "bench_history",
        "cache": str(cache),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "options": {},
    }
    builds = {"duckdb": "duckdb", "mmap": "index"}
    for option in options:
        if option in builds and not args.no_build:
            log(f"building {builds[option]}")
            result["options"][option] = {
                "build": run_child("build", builds[option], str(cache), str(work))
            }
    ids_file, facts = sample_ids(cache, work, args.lookups, args.seed)
    result.update(facts)
    for option in options:
        log(f"look-ups: {option}")
        result["options"].setdefault(option, {}).update(
            run_child("lookups", option, str(cache), str(work), str(ids_file))
        )
    if len(options) > 1 and "store" in options:
        log("comparing frames")
        result["identical"] = run_child(
            "compare", ",".join(options), str(cache), str(work), str(ids_file)
        )
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
