"""The feature code: catalogue, encodings, protected attributes, aggregates and parity."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import polars as pl
import pytest

from scoring.ml.data.history_store import frames_from_records
from scoring.ml.features.base import token
from scoring.ml.features.build import (
    DEFAULT_EXCLUDED,
    FeatureKind,
    build_features,
    feature_catalogue,
    feature_names,
    selected_specs,
)
from scoring.ml.features.compiled import UnsupportedExpression, compile_expr
from scoring.ml.features.interactions import INTERACTIONS
from scoring.ml.features.single import one_applicant_row, variant_rows
from scoring.ml.schema.tables import APPLICATION_VOCABULARIES, DAYS_SENTINEL, HISTORY_TABLES
from scoring.ml.synth.generate import generate
from tests.scoring.ml.ml_support import (
    applicant_history,
    same_rows,
    sample_features,
    sample_tables,
)


def _app(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "SK_ID_CURR": 1,
        "AMT_INCOME_TOTAL": 100_000.0,
        "AMT_CREDIT": 400_000.0,
        "AMT_ANNUITY": 20_000.0,
        "AMT_GOODS_PRICE": 360_000.0,
        "DAYS_BIRTH": -12_000,
        "DAYS_EMPLOYED": -2_000,
        "CNT_FAM_MEMBERS": 2.0,
        "CNT_CHILDREN": 0,
        "CODE_GENDER": "F",
        "NAME_INCOME_TYPE": "Working",
        "EXT_SOURCE_1": 0.2,
        "EXT_SOURCE_2": 0.5,
        "EXT_SOURCE_3": None,
    }
    base.update(values)
    return base


def _row(application: dict, history: dict | None = None, **kwargs: object) -> pd.Series:
    fs = build_features([application], history, **kwargs)
    return pd.Series(fs.X[0].astype(np.float64), index=fs.feature_names)


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_has_over_500_documented_features_with_safe_unique_names() -> None:
    specs = feature_catalogue()
    names = [s.name for s in specs]
    assert len(feature_names()) >= 500
    assert len(set(names)) == len(names)
    # LightGBM and XGBoost refuse JSON punctuation, brackets and '<' in names.
    assert all(re.fullmatch(r"[A-Z0-9_]+", n) for n in names), [
        n for n in names if not re.fullmatch(r"[A-Z0-9_]+", n)
    ]
    assert all(s.description and s.dtype == "float32" for s in specs)
    sources = {s.source for s in specs}
    assert {"application", "interaction", *HISTORY_TABLES} <= sources


def test_exactly_twenty_named_interactions() -> None:
    interactions = [s for s in feature_catalogue() if s.kind is FeatureKind.INTERACTION]
    assert len(interactions) == len(INTERACTIONS) == 20
    assert all(s.name.startswith("IX_") for s in interactions)


def test_every_history_table_has_aggregates_and_recency_windows() -> None:
    names = set(feature_names())
    for prefix in ("BURO_ACT_", "BURO_CLS_", "PREV_APR_", "PREV_REF_", "BB_DPD_12M"):
        assert any(n.startswith(prefix) for n in names), prefix
    for months in (6, 12, 24):
        for prefix in ("BURO", "BB_DPD", "PREV", "POS", "INST", "CC"):
            assert any(n.startswith(f"{prefix}_{months}M") for n in names), (prefix, months)


@pytest.mark.parametrize("column", sorted(APPLICATION_VOCABULARIES))
def test_vocabulary_tokens_do_not_collide(column: str) -> None:
    vocabulary = APPLICATION_VOCABULARIES[column]
    assert len({token(v) for v in vocabulary}) == len(vocabulary)


# --- encodings and application features --------------------------------------------------


def test_categories_are_coded_by_the_schema_vocabulary_not_the_data() -> None:
    vocabulary = APPLICATION_VOCABULARIES["NAME_INCOME_TYPE"]
    working = _row(_app(NAME_INCOME_TYPE="Working"))
    assert working["NAME_INCOME_TYPE_CODE"] == vocabulary.index("Working")
    assert working["NAME_INCOME_TYPE_WORKING"] == 1.0
    assert working["NAME_INCOME_TYPE_PENSIONER"] == 0.0
    unknown = _row(_app(NAME_INCOME_TYPE="Astronaut"))
    assert np.isnan(unknown["NAME_INCOME_TYPE_CODE"])
    one_hots = [n for n in unknown.index if n.startswith("NAME_INCOME_TYPE_") and "CODE" not in n]
    assert len(one_hots) == len(vocabulary)
    assert (unknown[one_hots] == 0).all()


def test_domain_ratios_and_the_days_employed_sentinel() -> None:
    row = _row(_app())
    assert row["CREDIT_TO_INCOME"] == pytest.approx(4.0)
    assert row["ANNUITY_TO_INCOME"] == pytest.approx(0.2)
    assert row["CREDIT_TO_GOODS"] == pytest.approx(400 / 360, rel=1e-6)
    assert row["EMPLOYED_TO_AGE"] == pytest.approx(2000 / 12000, rel=1e-6)
    assert row["EXT_SOURCE_MEAN"] == pytest.approx(0.35)
    assert row["EXT_SOURCE_MIN"] == pytest.approx(0.2)
    assert row["EXT_SOURCE_NULLS"] == 1.0
    assert np.isnan(row["EXT_SOURCE_PROD"])
    pensioner = _row(_app(DAYS_EMPLOYED=DAYS_SENTINEL))
    assert np.isnan(pensioner["DAYS_EMPLOYED"])
    assert np.isnan(pensioner["EMPLOYED_TO_AGE"])
    assert pensioner["NOT_EMPLOYED"] == 1.0 and row["NOT_EMPLOYED"] == 0.0


def test_zero_denominators_give_missing_not_infinity() -> None:
    row = _row(_app(AMT_INCOME_TOTAL=0.0, AMT_ANNUITY=0.0))
    assert np.isnan(row["CREDIT_TO_INCOME"]) and np.isnan(row["CREDIT_TERM"])
    assert np.isfinite(row.to_numpy()[~np.isnan(row.to_numpy())]).all()


# --- protected attributes --------------------------------------------------------------------


def test_gender_is_excluded_by_default_and_kept_beside_the_matrix(home_credit_sample_dir) -> None:
    fs = sample_features(home_credit_sample_dir)
    assert "CODE_GENDER" in DEFAULT_EXCLUDED
    assert not any("CODE_GENDER" in s.inputs for s in fs.specs)
    assert not any("GENDER" in n for n in fs.feature_names)
    app = sample_tables(home_credit_sample_dir)["application_train"]
    assert list(fs.protected["SK_ID_CURR"]) == list(app["SK_ID_CURR"])
    assert list(fs.protected["CODE_GENDER"]) == list(app["CODE_GENDER"].astype(str))
    assert set(fs.protected["AGE_BAND"]) <= {"<25", "25-34", "35-44", "45-54", "55+"}
    age = -app["DAYS_BIRTH"].to_numpy() / 365.25
    assert (fs.protected["AGE_BAND"].to_numpy()[age < 25] == "<25").all()
    assert (fs.protected["AGE_BAND"].to_numpy()[age >= 55] == "55+").all()


def test_the_excluded_list_is_configurable() -> None:
    with_gender = _row(_app(CODE_GENDER="M"), exclude=())
    assert with_gender["CODE_GENDER_CODE"] == APPLICATION_VOCABULARIES["CODE_GENDER"].index("M")
    no_age = build_features([_app()], exclude=("CODE_GENDER", "DAYS_BIRTH"))
    assert "AGE_YEARS" not in no_age.feature_names
    assert "IX_EXT_MEAN_X_AGE" not in no_age.feature_names
    assert not any("DAYS_BIRTH" in s.inputs for s in no_age.specs)
    assert len(no_age.feature_names) < len(feature_names())
    no_bureau = build_features([_app()], exclude=("CODE_GENDER", "bureau"))
    assert not any(n.startswith("BURO_") for n in no_bureau.feature_names)


# --- history aggregates ------------------------------------------------------------------


def test_history_aggregates_on_hand_made_rows() -> None:
    client = 7
    history = {
        "bureau": [
            {"SK_ID_CURR": client, "SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active",
             "DAYS_CREDIT": -100, "AMT_CREDIT_SUM": 1000.0, "AMT_CREDIT_SUM_DEBT": 600.0},
            {"SK_ID_CURR": client, "SK_ID_BUREAU": 2, "CREDIT_ACTIVE": "Closed",
             "DAYS_CREDIT": -900, "AMT_CREDIT_SUM": 5000.0, "AMT_CREDIT_SUM_DEBT": 0.0},
        ],
        "bureau_balance": [
            {"SK_ID_BUREAU": 1, "MONTHS_BALANCE": 0, "STATUS": "1"},
            {"SK_ID_BUREAU": 1, "MONTHS_BALANCE": -1, "STATUS": "0"},
            {"SK_ID_BUREAU": 2, "MONTHS_BALANCE": -30, "STATUS": "C"},
            {"SK_ID_BUREAU": 2, "MONTHS_BALANCE": -31, "STATUS": "3"},
        ],
        "previous_application": [
            {"SK_ID_CURR": client, "SK_ID_PREV": 10, "NAME_CONTRACT_STATUS": "Refused",
             "DAYS_DECISION": -30, "AMT_APPLICATION": 100.0, "AMT_CREDIT": 0.0},
            {"SK_ID_CURR": client, "SK_ID_PREV": 11, "NAME_CONTRACT_STATUS": "Approved",
             "DAYS_DECISION": -1000, "AMT_APPLICATION": 90.0, "AMT_CREDIT": 100.0},
        ],
        "installments_payments": [
            {"SK_ID_CURR": client, "SK_ID_PREV": 11, "DAYS_INSTALMENT": -100,
             "DAYS_ENTRY_PAYMENT": -90, "AMT_INSTALMENT": 50.0, "AMT_PAYMENT": 25.0},
            {"SK_ID_CURR": client, "SK_ID_PREV": 11, "DAYS_INSTALMENT": -400,
             "DAYS_ENTRY_PAYMENT": -405, "AMT_INSTALMENT": 50.0, "AMT_PAYMENT": 50.0},
            {"SK_ID_CURR": client, "SK_ID_PREV": 11, "DAYS_INSTALMENT": -700,
             "DAYS_ENTRY_PAYMENT": -660, "AMT_INSTALMENT": 50.0, "AMT_PAYMENT": 50.0},
        ],
        "credit_card_balance": [
            {"SK_ID_CURR": client, "SK_ID_PREV": 12, "MONTHS_BALANCE": -1,
             "AMT_BALANCE": 500.0, "AMT_CREDIT_LIMIT_ACTUAL": 1000.0,
             "AMT_DRAWINGS_ATM_CURRENT": 100.0, "AMT_DRAWINGS_CURRENT": 100.0},
            {"SK_ID_CURR": client, "SK_ID_PREV": 12, "MONTHS_BALANCE": -2,
             "AMT_BALANCE": 1000.0, "AMT_CREDIT_LIMIT_ACTUAL": 1000.0,
             "AMT_DRAWINGS_ATM_CURRENT": 0.0, "AMT_DRAWINGS_CURRENT": 0.0},
        ],
        "POS_CASH_balance": [
            {"SK_ID_CURR": client, "SK_ID_PREV": 11, "MONTHS_BALANCE": -1, "SK_DPD": 0,
             "CNT_INSTALMENT": 10.0, "CNT_INSTALMENT_FUTURE": 4.0,
             "NAME_CONTRACT_STATUS": "Active"},
            {"SK_ID_CURR": client, "SK_ID_PREV": 11, "MONTHS_BALANCE": -2, "SK_DPD": 5,
             "CNT_INSTALMENT": 10.0, "CNT_INSTALMENT_FUTURE": 5.0,
             "NAME_CONTRACT_STATUS": "Active"},
        ],
    }  # fmt: skip
    row = _row(_app(SK_ID_CURR=client), history)
    assert row["BURO_COUNT"] == 2 and row["BURO_ACTIVE_COUNT"] == 1
    assert row["BURO_ACT_AMT_CREDIT_SUM_DEBT_SUM"] == 600.0
    assert row["BURO_CLS_AMT_CREDIT_SUM_SUM"] == 5000.0
    assert row["BURO_OPENED_6M_COUNT"] == 1 and row["BURO_OPENED_24M_COUNT"] == 1
    assert row["BB_DPD_SHARE_ALL"] == pytest.approx(0.5)
    assert row["BB_DPD_12M_COUNT"] == 1  # month 0 status 1; month -31 is too old
    assert row["BURO_BB_WORST_MAX"] == 3
    assert row["PREV_REFUSED_COUNT"] == 1 and row["PREV_APPROVED_COUNT"] == 1
    assert row["PREV_NAME_CONTRACT_STATUS_REFUSED_SHARE"] == pytest.approx(0.5)
    assert row["PREV_6M_REFUSED_COUNT"] == 1
    assert row["PREV_APP_TO_CREDIT_MAX"] == pytest.approx(0.9)  # refused: credit 0 -> missing
    assert row["INST_LATE_MEAN"] == pytest.approx(2 / 3)
    assert row["INST_DPD_MAX"] == 40.0
    assert row["INST_UNDERPAID_MEAN"] == pytest.approx(1 / 3)
    assert row["INST_12M_LATE_MEAN"] == pytest.approx(1.0)
    assert row["CC_UTIL_MEAN"] == pytest.approx(0.75)
    assert row["CC_ATM_MONTH_MEAN"] == pytest.approx(0.5)
    assert row["POS_DPD_FLAG_MEAN"] == pytest.approx(0.5)
    assert row["POS_LATEST_FUTURE_SUM"] == 4.0


def test_an_applicant_without_history_has_zero_counts_and_missing_means() -> None:
    row = _row(_app())
    empty = _row(_app(), {t: [] for t in HISTORY_TABLES})
    assert same_rows(row.to_numpy(), empty.to_numpy())
    assert row["BURO_COUNT"] == 0 and row["INST_COUNT"] == 0 and row["PREV_COUNT"] == 0
    assert row["BURO_AMT_CREDIT_SUM_SUM"] == 0
    assert np.isnan(row["BURO_DAYS_CREDIT_MEAN"]) and np.isnan(row["INST_LATE_MEAN"])


def test_the_no_history_shortcut_equals_the_full_computation() -> None:
    """Without any history the aggregates are taken from a cache; with another applicant's
    rows in the call they are computed: the applicant without history gets the same row."""
    alone = _row(_app(SK_ID_CURR=2))
    other = {"bureau": [{"SK_ID_CURR": 1, "SK_ID_BUREAU": 10, "CREDIT_ACTIVE": "Active"}]}
    fs = build_features([_app(SK_ID_CURR=1), _app(SK_ID_CURR=2)], other)
    assert same_rows(fs.X[1].astype(np.float64), alone.to_numpy())
    assert fs.X[0][fs.feature_names.index("BURO_COUNT")] == 1 and alone["BURO_COUNT"] == 0


def test_rows_come_out_in_input_order(home_credit_sample_dir) -> None:
    app = sample_tables(home_credit_sample_dir)["application_train"].iloc[:50]
    shuffled = app.sample(frac=1.0, random_state=1)
    fs = build_features(shuffled)
    assert list(fs.ids) == list(shuffled["SK_ID_CURR"])


# --- parity --------------------------------------------------------------------------------


def test_online_row_equals_the_batch_row(home_credit_sample_dir) -> None:
    """The architecture's guard: one applicant's row, built from only that applicant's rows
    (as pandas frames from the loader, and as JSON-like records from the API), equals that
    applicant's row of the batch build over the whole sample."""
    batch = sample_features(home_credit_sample_dir)
    tables = sample_tables(home_credit_sample_dir)
    app = tables["application_train"]
    counts = {
        t: tables[t]["SK_ID_CURR"].value_counts() for t in HISTORY_TABLES if t != "bureau_balance"
    }
    rich = [i for i in app["SK_ID_CURR"] if all(i in c.index for c in counts.values())][:6]
    bare = [i for i in app["SK_ID_CURR"] if not any(i in c.index for c in counts.values())][:4]
    assert len(rich) == 6 and len(bare) == 4
    position = {sk: i for i, sk in enumerate(batch.ids)}
    for sk in rich + bare:
        history = applicant_history(home_credit_sample_dir, sk)
        if sk in rich:
            assert all(len(history[t]) > 0 for t in HISTORY_TABLES if t != "bureau_balance")
        application = app[app["SK_ID_CURR"] == sk]
        as_frames = build_features(application, history)
        as_records = build_features(
            application.to_dict("records"),
            {t: f.to_dict("records") for t, f in history.items()},
        )
        expected = batch.X[position[sk]]
        assert same_rows(as_frames.X[0], expected), sk
        assert same_rows(as_records.X[0], expected), sk
        assert as_frames.feature_names == batch.feature_names


# --- the compiled one-applicant path -------------------------------------------------------

#: Kinds whose values are whole numbers or codes: the compiled path must give them exactly.
_EXACT_KINDS = {FeatureKind.COUNT, FeatureKind.FLAG, FeatureKind.CATEGORY_CODE, FeatureKind.ONE_HOT}
#: Float features: sums and means are taken in another order (numpy's sequential
#: reduceat vs polars' chunked, pairwise sums), which can move the float64 result in its
#: last bits and so, rarely, the float32 cell by one unit (6e-8 relative). 1e-6 relative is
#: a handful of float32 units: any real difference (a wrong row, mask or window) is far larger.
_FLOAT_RTOL = 1e-6
_FLOAT_ATOL = 1e-9


@pytest.fixture(scope="module")
def generated_2000(tmp_path_factory) -> dict[str, pl.DataFrame]:
    """About 2,300 generated applicants (1,999 train + 317 test) with their history tables."""
    out = tmp_path_factory.mktemp("parity") / "synth"
    generate(out, 0.0065, 11, "parquet")
    return {p.stem: pl.read_parquet(p) for p in out.glob("*.parquet")}


def _mismatches(names, specs, single: np.ndarray, batch: np.ndarray) -> list[str]:
    """The features where the compiled rows differ from the batch rows (NaN where NaN;
    exact for counts, flags and codes; floats within the stated tolerance)."""
    out = []
    for j, (name, spec) in enumerate(zip(names, specs, strict=True)):
        a, b = single[:, j].astype(np.float64), batch[:, j].astype(np.float64)
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        bad = nan_a != nan_b
        both = ~nan_a & ~nan_b
        if spec.kind in _EXACT_KINDS:
            bad |= both & (a != b)
        else:
            bad |= both & ~np.isclose(a, b, rtol=_FLOAT_RTOL, atol=_FLOAT_ATOL)
        if bad.any():
            rows = np.flatnonzero(bad)[:3]
            out.append(f"{name}: rows {list(rows)} single {a[rows]} batch {b[rows]}")
    return out


def test_compiled_row_equals_the_batch_row_for_2000_generated_applicants(generated_2000):
    """Issue 15's parity: 2,000 generated applicants, each built alone by the compiled numpy
    path from only its own rows (half as API-like records, half as the history store's
    frames), equal the batch build over all of them, with history and without."""
    tables = generated_2000
    app = pl.concat([tables["application_train"].drop("TARGET"), tables["application_test"]]).head(
        2000
    )
    assert app.height == 2000
    ids = app.select("SK_ID_CURR")
    history = {
        name: tables[name].join(ids, on="SK_ID_CURR", how="semi")
        for name in HISTORY_TABLES
        if name != "bureau_balance"
    }
    history["bureau_balance"] = tables["bureau_balance"].join(
        history["bureau"].select("SK_ID_BUREAU"), on="SK_ID_BUREAU", how="semi"
    )
    with_history = build_features(app, history)
    without = build_features(app)
    by_client = {
        name: frame.partition_by("SK_ID_CURR", as_dict=True)
        for name, frame in history.items()
        if name != "bureau_balance"
    }
    months = history["bureau_balance"].partition_by("SK_ID_BUREAU", as_dict=True)
    rows_alone, rows_bare = [], []
    covered = dict.fromkeys(HISTORY_TABLES, 0)
    for i, application in enumerate(app.iter_rows(named=True)):
        own = {
            name: parts.get((application["SK_ID_CURR"],), tables[name].clear())
            for name, parts in by_client.items()
        }
        credits = own["bureau"].get_column("SK_ID_BUREAU").to_list()
        own["bureau_balance"] = pl.concat(
            [months[(c,)] for c in credits if (c,) in months] or [tables["bureau_balance"].clear()]
        )
        for name, frame in own.items():
            covered[name] += frame.height > 0
        if i % 2:
            given = {name: frames_from_records(name, f.to_dicts()) for name, f in own.items()}
        else:
            given = {name: f.to_dicts() for name, f in own.items()}
        rows_alone.append(one_applicant_row(application, given)[0])
        rows_bare.append(one_applicant_row(application)[0])
    # The generated data exercises every table, and leaves some applicants without it.
    assert all(200 < n < 2000 for n in covered.values()), covered
    specs = selected_specs(DEFAULT_EXCLUDED)
    names = with_history.feature_names
    assert _mismatches(names, specs, np.vstack(rows_alone), with_history.X) == []
    assert _mismatches(names, specs, np.vstack(rows_bare), without.X) == []


def test_variant_rows_equal_each_variant_built_alone(generated_2000):
    """A counteroffer search's rows (every candidate of one applicant, its history built once)
    are, bit for bit, the rows each candidate gets alone, the row it will be scored on if
    accepted: 300 generated applicants, with and without history, records and frames."""
    from scoring.ml.serving.counteroffer import candidates

    tables = generated_2000
    app = tables["application_train"].drop("TARGET").head(300)
    by_client = {
        name: frame.partition_by("SK_ID_CURR", as_dict=True)
        for name, frame in tables.items()
        if name in HISTORY_TABLES and name != "bureau_balance"
    }
    searched = with_history = 0
    for i, application in enumerate(app.iter_rows(named=True)):
        variants = [c.row for c in candidates(application)]
        if not variants:
            continue
        own = {
            name: parts.get((application["SK_ID_CURR"],), tables[name].clear())
            for name, parts in by_client.items()
        }
        history = (
            None
            if i % 3 == 0
            else {n: f.to_dicts() if i % 2 else frames_from_records(n, f.to_dicts())
                  for n, f in own.items()}
        )  # fmt: skip
        together = variant_rows(variants, history)
        alone = np.vstack([one_applicant_row(v, history) for v in variants])
        assert together.shape == alone.shape
        np.testing.assert_array_equal(together, alone)
        searched += 1
        with_history += history is not None and any(f.height for f in own.values())
    assert searched > 250 and with_history > 100, (searched, with_history)


def test_compiled_row_handles_odd_history_like_the_batch_build() -> None:
    """Rows the generator never makes: a bureau credit without an id, two bureau rows with
    one id (their months count twice in the inner join), months of an unknown credit, text
    numbers, an unknown category, a POS month without a loan id, values missing everywhere."""
    client = 3
    history = {
        "bureau": [
            {"SK_ID_CURR": client, "SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active",
             "DAYS_CREDIT": "-100", "AMT_CREDIT_SUM": 1000.0},
            {"SK_ID_CURR": client, "SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Closed"},
            {"SK_ID_CURR": client, "SK_ID_BUREAU": None, "CREDIT_ACTIVE": "Sold",
             "CREDIT_TYPE": "Something new"},
        ],
        "bureau_balance": [
            {"SK_ID_BUREAU": 1, "MONTHS_BALANCE": 0, "STATUS": "2"},
            {"SK_ID_BUREAU": 1, "MONTHS_BALANCE": 0, "STATUS": "X"},
            {"SK_ID_BUREAU": 1, "MONTHS_BALANCE": None, "STATUS": None},
            {"SK_ID_BUREAU": 99, "MONTHS_BALANCE": -1, "STATUS": "5"},
        ],
        "POS_CASH_balance": [
            {"SK_ID_CURR": client, "SK_ID_PREV": None, "MONTHS_BALANCE": -3,
             "CNT_INSTALMENT_FUTURE": 2.0, "NAME_CONTRACT_STATUS": "Completed"},
            {"SK_ID_CURR": client, "SK_ID_PREV": 8, "MONTHS_BALANCE": None, "SK_DPD": 4},
            {"SK_ID_CURR": client, "SK_ID_PREV": 8, "MONTHS_BALANCE": None, "SK_DPD": 1},
        ],
        "previous_application": [{"SK_ID_CURR": client, "DAYS_FIRST_DUE": DAYS_SENTINEL}],
        "installments_payments": [{"SK_ID_CURR": client}],
        "credit_card_balance": [{"SK_ID_CURR": client, "AMT_BALANCE": 5.0}],
    }  # fmt: skip
    application = _app(SK_ID_CURR=client, NAME_INCOME_TYPE="Astronaut", CNT_FAM_MEMBERS="0")
    batch = build_features([application], history)
    single = one_applicant_row(application, history)
    assert _mismatches(batch.feature_names, batch.specs, single, batch.X) == []
    row = dict(zip(batch.feature_names, single[0], strict=True))
    assert row["BB_MONTHS_COUNT"] == 6  # 3 months x 2 bureau rows of credit 1; 99 is not hers
    assert np.isnan(row["NAME_INCOME_TYPE_CODE"])


def test_the_compiler_refuses_what_it_does_not_know() -> None:
    """A feature written with an operation the numpy compiler lacks fails loudly at compile
    time, never silently computes something else."""
    with pytest.raises(UnsupportedExpression):
        compile_expr(pl.col("AMT_CREDIT").log().alias("LOG_CREDIT"))
    with pytest.raises(UnsupportedExpression):
        compile_expr(pl.col("AMT_CREDIT").sort_by("DAYS_BIRTH", descending=True).last())
