"""Synthetic Home Credit data at any scale, with a known default probability.

``generate(out, scale, seed, fmt)`` writes the eight Kaggle tables in exactly the Kaggle
schema (:mod:`scoring.ml.schema.tables`) to ``out`` as ``<table>.parquet`` or ``<table>.csv``,
plus ``oracle/oracle.parquet`` (SK_ID_CURR, split, p_default, p_default_application_only)
and ``oracle/summary.json``. Scale 1.0 is the size of the Kaggle files (307,511 train and
48,744 test applicants, about 58M history rows).

How it works: clients are generated in chunks of :data:`CHUNK_CLIENTS`; for each chunk the
application rows (:mod:`scoring.ml.synth.application`), previous applications and their
monthly tables (:mod:`scoring.ml.synth.previous`, :mod:`scoring.ml.synth.monthly`) and the
bureau tables (:mod:`scoring.ml.synth.bureau`) are drawn with numpy, the default
probability is computed from the written rows (:mod:`scoring.ml.synth.oracle`), TARGET is drawn,
and every table gets one Parquet row group (or a CSV append). Memory is bounded by a chunk.
Output is identical for the same seed, scale and format: each chunk has its own random
stream derived from the seed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy.special import ndtri

from scoring.ml.schema.tables import SCHEMA_VERSION, TABLE_NAMES, TABLES, Kind
from scoring.ml.synth import oracle
from scoring.ml.synth.application import generate_applications
from scoring.ml.synth.base import inverse_quantile, to_arrow
from scoring.ml.synth.bureau import FIRST_ID as FIRST_BUREAU_ID
from scoring.ml.synth.bureau import generate_bureau
from scoring.ml.synth.monthly import behaviour, generate_monthly
from scoring.ml.synth.previous import FIRST_ID as FIRST_PREV_ID
from scoring.ml.synth.previous import generate_previous

TRAIN_ROWS = 307_511
TEST_ROWS = 48_744
FIRST_CLIENT_ID = 100_001
CHUNK_CLIENTS = 20_000
#: Synthetic histories per (segment, activity) cell for the application-only oracle.
ORACLE_DRAWS = 2_000
ORACLE_DRAWS_SMALL = 200
SUMMARY_FILE = "generation.json"

Format = Literal["parquet", "csv"]
Progress = Callable[[str], None]


@dataclass
class GenerationSummary:
    out: str
    scale: float
    seed: int
    format: str
    rows: dict[str, int] = field(default_factory=dict)
    default_rate: float = 0.0
    oracle_auc: float = 0.0
    application_only_auc: float = 0.0
    oracle_draws: int = 0
    seconds: float = 0.0
    schema_version: str = SCHEMA_VERSION

    def render(self) -> str:
        lines = [f"{name:<22} {rows:>12,}" for name, rows in self.rows.items()]
        lines += [
            f"default rate (train):             {self.default_rate:.4f}",
            f"oracle AUC (train):               {self.oracle_auc:.4f}",
            f"application-only oracle AUC:      {self.application_only_auc:.4f} "
            f"({self.oracle_draws:,} synthetic histories per cell)",
            f"gap:                              {self.oracle_auc - self.application_only_auc:.4f}",
            f"written to {self.out} in {self.seconds:.1f} s",
        ]
        return "\n".join(lines)


def generate(
    out: str | Path,
    scale: float,
    seed: int,
    fmt: Format = "parquet",
    progress: Progress | None = None,
) -> GenerationSummary:
    """Write a synthetic Home Credit data set to ``out`` (replaced if it is an earlier
    generator output; any other non-empty folder is refused)."""
    if not 0 < scale <= 10:
        raise ValueError(f"scale must be in (0, 10], got {scale}")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', got {fmt!r}")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not (out / SUMMARY_FILE).is_file():
        raise ValueError(f"{out} exists and is not a generator output; choose another folder")
    started = time.perf_counter()
    n_train = max(1, round(TRAIN_ROWS * scale))
    n_test = max(1, round(TEST_ROWS * scale))
    total = n_train + n_test
    is_test = np.zeros(total, dtype=bool)
    is_test[np.random.default_rng([seed, 1]).choice(total, n_test, replace=False)] = True
    summary = GenerationSummary(str(out), scale, seed, fmt, rows=dict.fromkeys(TABLE_NAMES, 0))
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    writers = _Writers(tmp, fmt)
    try:
        oracle_parts: list[dict[str, np.ndarray]] = []
        next_ids = {"bureau": FIRST_BUREAU_ID, "previous": FIRST_PREV_ID}
        chunks = range(0, total, CHUNK_CLIENTS)
        for index, start in enumerate(chunks):
            stop = min(start + CHUNK_CLIENTS, total)
            rng = np.random.default_rng([seed, 2, index])
            tables, part = _chunk(rng, start, stop, is_test[start:stop], next_ids)
            for name, table in tables.items():
                writers.write(name, table)
                summary.rows[name] += table.num_rows
            oracle_parts.append(part)
            if progress:
                history = sum(v for k, v in summary.rows.items() if not k.startswith("application"))
                progress(
                    f"chunk {index + 1}/{len(chunks)}: {stop:,} clients, {history:,} history rows "
                    f"({time.perf_counter() - started:.0f} s)"
                )
        writers.close()
        parts = {k: np.concatenate([p[k] for p in oracle_parts]) for k in oracle_parts[0]}
        del oracle_parts
        draws = ORACLE_DRAWS if scale >= 0.02 else ORACLE_DRAWS_SMALL
        if progress:
            progress(f"application-only oracle: {draws:,} synthetic histories per cell")
        expected = oracle.expected_probability(
            parts["app_logit"],
            parts["income"],
            parts["posterior"],
            reference_histories(np.random.default_rng([seed, 3]), draws),
        )
        train = ~parts["is_test"]
        summary.default_rate = float(parts["target"][train].mean())
        summary.oracle_auc = oracle.auc(parts["target"][train], parts["p"][train])
        summary.application_only_auc = oracle.auc(parts["target"][train], expected[train])
        summary.oracle_draws = draws
        _write_oracle(tmp, parts, expected)
        # No timings in the files: the output is byte-identical for the same arguments.
        report = {k: v for k, v in asdict(summary).items() if k not in ("out", "seconds")}
        (tmp / "oracle" / "summary.json").write_text(json.dumps(report, indent=2, sort_keys=True))
        (tmp / SUMMARY_FILE).write_text(json.dumps(report, indent=2, sort_keys=True))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        summary.seconds = round(time.perf_counter() - started, 1)
        return summary
    finally:
        writers.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _chunk(
    rng: np.random.Generator,
    start: int,
    stop: int,
    is_test: np.ndarray,
    next_ids: dict[str, int],
) -> tuple[dict[str, pa.Table], dict[str, np.ndarray]]:
    """All eight tables for clients ``start..stop`` and what the oracle needs about them."""
    n = stop - start
    ids = FIRST_CLIENT_ID + np.arange(start, stop, dtype=np.int64)
    segment = rng.choice(oracle.SEGMENT_PRIOR.size, size=n, p=oracle.SEGMENT_PRIOR)
    app_cols, _ = generate_applications(rng, ids, is_test, segment)
    band = oracle.activity_age_band(app_cols["DAYS_BIRTH"])
    activity = _draw_activity(rng, band)
    history = _history(rng, ids, oracle.SEGMENT_SCORE[segment], activity, next_ids)

    app = to_arrow("application_test", app_cols)
    app_frame = pl.from_arrow(app)
    app_logit = oracle.application_logit(app_frame)
    frames = {name: pl.from_arrow(table) for name, table in history.items()}
    parts = oracle.history_parts(oracle.history_aggregates(ids, frames))
    income = app_cols["AMT_INCOME_TOTAL"]
    p = oracle.probability(app_logit, parts, income)
    target = (rng.random(n) < p).astype(np.int64)

    train_rows = np.flatnonzero(~is_test)
    train = app.take(train_rows)
    train = train.add_column(1, "TARGET", pa.array(target[train_rows]))
    tables = {"application_train": train, "application_test": app.take(np.flatnonzero(is_test))}
    tables.update(history)
    latents = {
        name: _ext_latent(name, app_cols[name])
        for name in ("EXT_SOURCE_1", "EXT_SOURCE_2", "EXT_SOURCE_3")
    }
    part = {
        "SK_ID_CURR": ids,
        "is_test": is_test,
        "p": p,
        "target": target,
        "app_logit": app_logit,
        "income": income,
        "posterior": oracle.cell_posterior(latents, app_cols["DAYS_BIRTH"]),
    }
    return {name: tables[name] for name in TABLE_NAMES}, part


def _draw_activity(rng: np.random.Generator, band: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(oracle.ACTIVITY_BY_AGE_BAND, axis=1)[band]
    return (rng.random(band.size)[:, None] > cumulative).sum(axis=1).clip(0, 2)


def _ext_latent(name: str, written: np.ndarray) -> np.ndarray:
    """Recover the EXT latent from the written score (the quantile function is strictly
    increasing, so this is exact up to floating point)."""
    u = np.clip(inverse_quantile(name, written), 1e-9, 1 - 1e-9)
    return np.where(np.isnan(written), np.nan, ndtri(u) * oracle.ext_total_sd(name))


def _history(
    rng: np.random.Generator,
    ids: np.ndarray,
    score: np.ndarray,
    activity: np.ndarray,
    next_ids: dict[str, int],
) -> dict[str, pa.Table]:
    prev_cols, prev_owner, loans = generate_previous(
        rng, ids, score, activity, next_ids["previous"]
    )
    next_ids["previous"] += prev_owner.size
    habits = behaviour(rng, score)
    pos, payments, cards = generate_monthly(
        rng, loans, prev_cols["SK_ID_PREV"], prev_cols["SK_ID_CURR"], prev_owner[loans.row], habits
    )
    bureau, balance = generate_bureau(rng, ids, score, activity, next_ids["bureau"])
    next_ids["bureau"] += bureau["SK_ID_BUREAU"].size
    return {
        "bureau": to_arrow("bureau", bureau),
        "bureau_balance": to_arrow("bureau_balance", balance),
        "previous_application": to_arrow("previous_application", prev_cols),
        "POS_CASH_balance": to_arrow("POS_CASH_balance", pos),
        "installments_payments": to_arrow("installments_payments", payments),
        "credit_card_balance": to_arrow("credit_card_balance", cards),
    }


def reference_histories(
    rng: np.random.Generator, draws: int
) -> dict[tuple[int, int], oracle.HistoryParts]:
    """``draws`` independent synthetic histories for each (segment, activity) cell, reduced
    to the parts of the history logit (one batch: 15 x ``draws`` clients)."""
    cells = [(s, k) for s in range(oracle.SEGMENT_PRIOR.size) for k in range(3)]
    segment = np.repeat([c[0] for c in cells], draws)
    activity = np.repeat([c[1] for c in cells], draws)
    ids = np.arange(segment.size, dtype=np.int64)
    counters = {"bureau": FIRST_BUREAU_ID, "previous": FIRST_PREV_ID}
    history = _history(rng, ids, oracle.SEGMENT_SCORE[segment], activity, counters)
    frames = {name: pl.from_arrow(table) for name, table in history.items()}
    parts = oracle.history_parts(oracle.history_aggregates(ids, frames))
    return {
        cell: oracle.HistoryParts(
            base=parts.base[i * draws : (i + 1) * draws],
            debt=parts.debt[i * draws : (i + 1) * draws],
        )
        for i, cell in enumerate(cells)
    }


def _write_oracle(folder: Path, parts: dict[str, np.ndarray], expected: np.ndarray) -> None:
    (folder / "oracle").mkdir()
    table = pa.table(
        {
            "SK_ID_CURR": parts["SK_ID_CURR"],
            "split": np.where(parts["is_test"], "test", "train"),
            "p_default": parts["p"],
            "p_default_application_only": expected,
        }
    )
    pq.write_table(table, folder / "oracle" / "oracle.parquet")


class _Writers:
    """One open Parquet or CSV writer per table; each chunk is appended."""

    def __init__(self, folder: Path, fmt: Format) -> None:
        self.folder = folder
        self.fmt = fmt
        self.open: dict[str, pq.ParquetWriter | pacsv.CSVWriter] = {}

    def write(self, name: str, table: pa.Table) -> None:
        if self.fmt == "csv":
            table = table.cast(_text_schema(name))
        writer = self.open.get(name)
        if writer is None:
            if self.fmt == "parquet":
                writer = pq.ParquetWriter(
                    self.folder / f"{name}.parquet", table.schema, compression="zstd"
                )
            else:
                options = pacsv.WriteOptions(quoting_style="needed")
                writer = pacsv.CSVWriter(
                    self.folder / f"{name}.csv", table.schema, write_options=options
                )
            self.open[name] = writer
        if self.fmt == "parquet":
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
        else:
            writer.write_table(table)

    def close(self) -> None:
        for writer in self.open.values():
            writer.close()
        self.open.clear()


def _text_schema(name: str) -> pa.Schema:
    types = {Kind.INT: pa.int64(), Kind.FLOAT: pa.float64(), Kind.CATEGORY: pa.string()}
    return pa.schema([(c.name, types[c.kind]) for c in TABLES[name].columns])
