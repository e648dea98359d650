"""The synthetic generator: Kaggle schema, real vocabularies and missingness, cross-table
consistency, determinism, and an oracle that depends only on written values."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from scoring.ml.schema.tables import DAYS_SENTINEL, FULL_DATA_ONLY, TABLE_NAMES, TABLES, Kind
from scoring.ml.synth.generate import TEST_ROWS, TRAIN_ROWS, generate, oracle
from tests.scoring.ml.conftest import TINY_SCALE, TINY_SEED

REAL_ROWS = {
    "bureau": 1_716_428,
    "bureau_balance": 27_299_925,
    "previous_application": 1_670_214,
    "POS_CASH_balance": 10_001_358,
    "installments_payments": 13_605_401,
    "credit_card_balance": 3_840_312,
}


def _frames(folder: Path, fmt: str = "parquet") -> dict[str, pl.DataFrame]:
    if fmt == "parquet":
        frames = {n: pl.read_parquet(folder / f"{n}.parquet") for n in TABLE_NAMES}
    else:
        frames = {
            n: pl.read_csv(folder / f"{n}.csv", infer_schema_length=None) for n in TABLE_NAMES
        }
    return {
        name: frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
        for name, frame in frames.items()
    }


@pytest.fixture(scope="module")
def tiny(tiny_parquet) -> dict[str, pl.DataFrame]:
    return _frames(tiny_parquet[0])


@pytest.fixture(scope="module")
def sample(home_credit_sample_dir) -> dict[str, pl.DataFrame]:
    return {
        name: pl.read_csv(home_credit_sample_dir / f"{name}.csv.gz", infer_schema_length=None)
        for name in TABLE_NAMES
        if name != "bureau_balance"
    }


def _real_header(folder: Path, table: str) -> list[str]:
    with gzip.open(folder / f"{table}.csv.gz", "rt", encoding="utf-8") as f:
        return f.readline().strip().split(",")


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_every_table_header_equals_the_real_header(
    home_credit_sample_dir, tiny_parquet, tiny_csv, table
) -> None:
    real = _real_header(home_credit_sample_dir, table)
    assert pq.ParquetFile(tiny_parquet[0] / f"{table}.parquet").schema_arrow.names == real
    with (tiny_csv[0] / f"{table}.csv").open(encoding="utf-8") as f:
        assert f.readline().strip().replace('"', "").split(",") == real


def test_types_match_the_schema(tiny) -> None:
    expected = {Kind.INT: pl.Int64, Kind.FLOAT: pl.Float64, Kind.CATEGORY: pl.String}
    for name, frame in tiny.items():
        for column in TABLES[name].columns:
            assert frame.schema[column.name] == expected[column.kind], (name, column.name)


def test_category_values_are_within_the_real_vocabulary(
    tiny, tiny_csv, sample, home_credit_sample_dir
) -> None:
    statuses = pl.read_csv(
        home_credit_sample_dir / "bureau_balance.csv.gz",
        columns=["STATUS"],
        schema_overrides={"STATUS": pl.String},
    )
    real_tables = {**sample, "bureau_balance": statuses}
    csv_frames = _frames(tiny_csv[0], "csv")
    for name in TABLE_NAMES:
        real = real_tables[name]
        family = "application" if name.startswith("application") else name
        for column in TABLES[name].columns:
            if column.kind is not Kind.CATEGORY:
                continue
            vocabulary = set(real[column.name].drop_nulls().unique().to_list())
            vocabulary |= set(FULL_DATA_ONLY.get((family, column.name), ()))
            for frames in (tiny, csv_frames):
                values = set(
                    frames[name][column.name].cast(pl.String).drop_nulls().unique().to_list()
                )
                assert values <= vocabulary, (name, column.name, values - vocabulary)


def test_row_counts_follow_the_scale(tiny_parquet) -> None:
    _, summary = tiny_parquet
    assert summary.rows["application_train"] == round(TRAIN_ROWS * TINY_SCALE)
    assert summary.rows["application_test"] == round(TEST_ROWS * TINY_SCALE)
    for name, real in REAL_ROWS.items():
        assert 0.6 < summary.rows[name] / (real * TINY_SCALE) < 1.5, name


def test_missingness_and_marginals_resemble_the_real_rows(tiny, sample) -> None:
    generated, real = tiny["application_train"], sample["application_train"]
    for column in TABLES["application_train"].columns:
        gap = abs(
            generated[column.name].null_count() / generated.height
            - real[column.name].null_count() / real.height
        )
        assert gap < 0.08, column.name
    for column in ("AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "DAYS_BIRTH", "EXT_SOURCE_2"):
        ratio = generated[column].median() / real[column].median()
        assert 0.85 < ratio < 1.15, column
    for name in ("bureau", "previous_application", "credit_card_balance"):
        for column in TABLES[name].columns:
            g, r = tiny[name][column.name], sample[name][column.name]
            assert abs(g.null_count() / g.len() - r.null_count() / r.len()) < 0.1, (
                name,
                column.name,
            )


def test_the_real_quirks_are_reproduced(tiny) -> None:
    app = pl.concat([tiny["application_train"].drop("TARGET"), tiny["application_test"]])
    not_employed = app["DAYS_EMPLOYED"] == DAYS_SENTINEL
    assert 0.12 < not_employed.mean() < 0.25
    assert (not_employed == app["NAME_INCOME_TYPE"].is_in(["Pensioner", "Unemployed"])).all()
    assert (not_employed == (app["ORGANIZATION_TYPE"] == "XNA")).all()
    assert (app.filter(not_employed)["FLAG_EMP_PHONE"] == 0).all()
    assert (app.filter(~not_employed)["DAYS_EMPLOYED"] < 0).all()
    for stem in ("APARTMENTS", "COMMONAREA", "FLOORSMAX"):
        masks = [app[f"{stem}_{s}"].is_null() for s in ("AVG", "MODE", "MEDI")]
        assert (masks[0] == masks[1]).all() and (masks[0] == masks[2]).all()
    previous = tiny["previous_application"]
    assert (previous["CODE_REJECT_REASON"] == "XAP").mean() > 0.5
    assert (previous["NAME_CASH_LOAN_PURPOSE"] == "XNA").sum() > 0
    for column in ("DAYS_FIRST_DRAWING", "DAYS_LAST_DUE", "DAYS_TERMINATION"):
        assert (previous[column] == DAYS_SENTINEL).sum() > 0, column
    refused = previous["NAME_CONTRACT_STATUS"] != "Approved"
    assert previous.filter(refused)["DAYS_FIRST_DUE"].is_null().all()
    assert (previous.filter(~refused & (previous["CODE_REJECT_REASON"] != "XAP")).height) == 0


def test_the_tables_are_consistent_with_each_other(tiny) -> None:
    bureau, balance = tiny["bureau"], tiny["bureau_balance"]
    previous, pos = tiny["previous_application"], tiny["POS_CASH_balance"]
    payments, cards = tiny["installments_payments"], tiny["credit_card_balance"]
    clients = pl.concat(
        [tiny["application_train"]["SK_ID_CURR"], tiny["application_test"]["SK_ID_CURR"]]
    )
    assert clients.n_unique() == clients.len()
    for frame in (bureau, previous, pos, payments, cards):
        assert frame["SK_ID_CURR"].is_in(clients.implode()).all()
    assert balance["SK_ID_BUREAU"].is_in(bureau["SK_ID_BUREAU"].implode()).all()
    assert balance["MONTHS_BALANCE"].is_between(-96, 0).all()
    opened = balance.join(bureau.select("SK_ID_BUREAU", "DAYS_CREDIT"), on="SK_ID_BUREAU")
    assert (
        opened["MONTHS_BALANCE"] >= (opened["DAYS_CREDIT"] / 30.4375).floor().clip(-96, None)
    ).all()
    closed = bureau.filter(pl.col("CREDIT_ACTIVE") == "Closed")
    assert closed["DAYS_ENDDATE_FACT"].is_between(closed["DAYS_CREDIT"], 0).all()
    assert bureau.filter(pl.col("CREDIT_ACTIVE") == "Active")["DAYS_ENDDATE_FACT"].is_null().all()
    parent = previous.select(
        "SK_ID_PREV",
        pl.col("SK_ID_CURR").alias("OWNER"),
        pl.col("NAME_CONTRACT_STATUS").alias("PREV_STATUS"),
        pl.col("NAME_CONTRACT_TYPE").alias("PREV_TYPE"),
        (pl.col("DAYS_DECISION") / 30.4375).floor().alias("DECISION_MONTH"),
        "DAYS_DECISION",
    )
    for frame in (pos, payments, cards):
        joined = frame.join(parent, on="SK_ID_PREV", how="left")
        assert joined["OWNER"].null_count() == 0, "every SK_ID_PREV is a previous application"
        assert (joined["OWNER"] == joined["SK_ID_CURR"]).all(), "of the same client"
        assert (joined["PREV_STATUS"] == "Approved").all()
    for frame, kinds in ((pos, {"Cash loans", "Consumer loans"}), (cards, {"Revolving loans"})):
        joined = frame.join(parent, on="SK_ID_PREV")
        assert set(joined["PREV_TYPE"].unique()) <= kinds
        assert (joined["MONTHS_BALANCE"] <= -1).all()
        assert (joined["MONTHS_BALANCE"] >= joined["DECISION_MONTH"]).all()
        assert joined.select(["SK_ID_PREV", "MONTHS_BALANCE"]).is_duplicated().sum() == 0
    joined = payments.join(parent, on="SK_ID_PREV")
    assert (joined["DAYS_INSTALMENT"] > joined["DAYS_DECISION"]).all()
    assert (joined["DAYS_INSTALMENT"] <= -1).all()
    assert joined["DAYS_ENTRY_PAYMENT"].drop_nulls().le(-1).all()
    for frame in (pos, cards):  # one row per month, no gaps
        spans = frame.group_by("SK_ID_PREV").agg(
            pl.len(),
            pl.col("MONTHS_BALANCE").min().alias("lo"),
            pl.col("MONTHS_BALANCE").max().alias("hi"),
        )
        assert (spans["len"] == spans["hi"] - spans["lo"] + 1).all()


def test_output_is_identical_for_the_same_seed(tiny_parquet, tmp_path) -> None:
    again = tmp_path / "again"
    generate(again, TINY_SCALE, TINY_SEED, "parquet")
    for name in sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file()):
        assert (again / name).read_bytes() == (tiny_parquet[0] / name).read_bytes(), name
    for name in [*TABLE_NAMES, "oracle/oracle"]:
        assert (again / f"{name}.parquet").read_bytes() == (
            tiny_parquet[0] / f"{name}.parquet"
        ).read_bytes(), name
    other = tmp_path / "other"
    generate(other, TINY_SCALE, TINY_SEED + 1, "parquet")
    assert (other / "bureau.parquet").read_bytes() != (again / "bureau.parquet").read_bytes()


def test_the_oracle_is_a_function_of_the_written_rows(tiny_parquet, tiny_csv) -> None:
    for folder, fmt in ((tiny_parquet[0], "parquet"), (tiny_csv[0], "csv")):
        frames = _frames(folder, fmt)
        app = pl.concat([frames["application_train"].drop("TARGET"), frames["application_test"]])
        truth = pl.read_parquet(folder / "oracle" / "oracle.parquet")
        app = truth.select("SK_ID_CURR").join(app, on="SK_ID_CURR", maintain_order="left")
        ids = app["SK_ID_CURR"].to_numpy()
        parts = oracle.history_parts(oracle.history_aggregates(ids, frames))
        p = oracle.probability(
            oracle.application_logit(app), parts, app["AMT_INCOME_TOTAL"].to_numpy()
        )
        np.testing.assert_allclose(p, truth["p_default"].to_numpy(), rtol=1e-12, atol=1e-15)
        assert set(truth["split"].unique()) == {"train", "test"}
        train_ids = frames["application_train"]["SK_ID_CURR"]
        assert set(truth.filter(pl.col("split") == "train")["SK_ID_CURR"]) == set(train_ids)
        assert truth["p_default_application_only"].is_between(0, 1).all()


def test_generate_refuses_bad_arguments_and_foreign_folders(tmp_path) -> None:
    with pytest.raises(ValueError, match="scale must be in"):
        generate(tmp_path / "x", 0, 1)
    with pytest.raises(ValueError, match="format must be"):
        generate(tmp_path / "x", 0.001, 1, "xlsx")  # type: ignore[arg-type]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep")
    with pytest.raises(ValueError, match="is not a generator output"):
        generate(tmp_path / "mine", 0.001, 1)
    assert (tmp_path / "mine" / "thesis.tex").exists()


@pytest.mark.slow
def test_oracle_figures_at_scale_0_05(tmp_path) -> None:
    summary = generate(tmp_path / "gen", 0.05, 2024, "parquet")
    assert 0.07 <= summary.default_rate <= 0.09
    assert 0.78 <= summary.oracle_auc <= 0.84
    assert summary.oracle_auc - summary.application_only_auc >= 0.04
    for name, real in REAL_ROWS.items():
        assert 0.8 < summary.rows[name] / (real * 0.05) < 1.25, name
    truth = pl.read_parquet(tmp_path / "gen" / "oracle" / "oracle.parquet")
    train = pl.read_parquet(
        tmp_path / "gen" / "application_train.parquet", columns=["SK_ID_CURR", "TARGET"]
    )
    joined = train.join(truth, on="SK_ID_CURR")
    y = joined["TARGET"].to_numpy()
    assert oracle.auc(y, joined["p_default"].to_numpy()) == pytest.approx(summary.oracle_auc)
    assert oracle.auc(y, joined["p_default_application_only"].to_numpy()) == pytest.approx(
        summary.application_only_auc
    )
    # TARGET is drawn from p: the mean of p matches the default rate.
    assert abs(joined["p_default"].mean() - summary.default_rate) < 0.008
    reported = json.loads((tmp_path / "gen" / "oracle" / "summary.json").read_text())
    assert reported["oracle_auc"] == pytest.approx(summary.oracle_auc)
