"""Exact ensemble SHAP: additivity, agreement with the libraries' TreeSHAP, grouping."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from scoring.ml.probability import sigmoid
from scoring.ml.serving import forest_kernels
from scoring.ml.serving.explain import FeatureGroups, native_contributions, top_risk_factors
from scoring.ml.serving.forest import (
    BLOCK_ROWS,
    BLOCKED_FROM_ROWS,
    THREADED_FROM_ROWS,
    Forest,
    shap_threads_allow,
    trees_from_catboost,
    trees_from_lightgbm,
    trees_from_xgboost,
)
from scoring.ml.serving.predict import Scorer
from scoring.ml.training.learners import BASE_MODELS, LEARNERS
from tests.scoring.ml.ml_support import (
    SEED_APPLICATION_ROW,
    applicant_history,
    sample_features,
    sample_tables,
    trained_bundle,
)


@pytest.fixture(scope="module")
def scorer(home_credit_sample_dir) -> Scorer:
    result, _ = trained_bundle(home_credit_sample_dir)
    return Scorer.from_bundle(result.bundle_path)


@pytest.fixture(scope="module")
def rows(home_credit_sample_dir) -> np.ndarray:
    return sample_features(home_credit_sample_dir).X[::37][:250]


# --- the forest against each library -------------------------------------------------------


@pytest.fixture(scope="module")
def toy() -> tuple[np.ndarray, np.ndarray]:
    """Data with NaNs and exact zeros, so every missing-value rule is exercised."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(1500, 12)).astype(np.float32)
    X[rng.random(X.shape) < 0.25] = np.nan
    X[rng.random(X.shape) < 0.1] = 0.0
    signal = np.nan_to_num(X[:, :6]) @ rng.normal(size=6) + 2 * np.isnan(X[:, 6])
    y = (rng.random(1500) < sigmoid(signal - 1.5)).astype(int)
    return X, y


def _toy_models(X: np.ndarray, y: np.ndarray) -> list[tuple[str, object]]:
    import lightgbm as lgb
    import xgboost as xgb
    from catboost import CatBoostClassifier

    out: list[tuple[str, object]] = []
    for extra in ({}, {"zero_as_missing": True}, {"use_missing": False}):
        params = {"objective": "binary", "num_leaves": 12, "max_depth": 5, "verbosity": -1}
        params |= {"num_threads": 1, **extra}
        out.append(("lightgbm", lgb.train(params, lgb.Dataset(X, y), num_boost_round=25)))
    xgb_params = {"objective": "binary:logistic", "max_depth": 4, "nthread": 1}
    out.append(("xgboost", xgb.train(xgb_params, xgb.DMatrix(X, y), num_boost_round=25)))
    for nan_mode in ("Min", "Max"):
        model = CatBoostClassifier(
            iterations=25,
            depth=4,
            verbose=False,
            thread_count=1,
            nan_mode=nan_mode,
            allow_writing_files=False,  # no catboost_info/ in the working tree
        )
        out.append(("catboost", model.fit(X, y)))
    return out


def test_forest_reproduces_each_library_prediction_and_treeshap(toy) -> None:
    X, y = toy
    readers = {
        "lightgbm": trees_from_lightgbm,
        "xgboost": trees_from_xgboost,
        "catboost": trees_from_catboost,
    }
    for library, model in _toy_models(X, y):
        forest = Forest([readers[library](model)], [1.0], n_features=X.shape[1])
        native_margin = LEARNERS[library].margins(model, X)
        base, native = native_contributions({library: model}, {library: 1.0}, 0.0, 1.0, 0.0, X)
        phi, prediction = forest.shap(X)
        # XGBoost sums its float32 leaves in float32; the forest uses float64.
        tolerance = 1e-5 if library == "xgboost" else 1e-9
        np.testing.assert_allclose(forest.predict(X), native_margin, atol=tolerance)
        np.testing.assert_allclose(prediction, forest.predict(X), atol=1e-12)
        np.testing.assert_allclose(phi, native, atol=tolerance)
        np.testing.assert_allclose(forest.expected_value, base, atol=tolerance)


def test_the_forest_refuses_rows_of_the_wrong_width(toy) -> None:
    X, y = toy
    _, model = _toy_models(X, y)[0]
    forest = Forest([trees_from_lightgbm(model)], [1.0], n_features=X.shape[1])
    with pytest.raises(ValueError, match="12 features"):
        forest.predict(X[:, :5])


# --- one core per process -------------------------------------------------------------------


@pytest.mark.parametrize(
    "count", [BLOCKED_FROM_ROWS, BLOCK_ROWS - 1, BLOCK_ROWS + 1, 3 * BLOCK_ROWS + 5]
)
def test_explanations_by_blocks_of_rows_are_the_row_by_row_ones_bit_for_bit(
    scorer: Scorer, rows: np.ndarray, count: int
) -> None:
    """A chunk is explained leaf by leaf over blocks of rows; a decision stored that way must
    be the one a single application (row by row) gets: the same bits, blocks full or not."""
    many = np.ascontiguousarray(rows[:count], dtype=np.float32)
    forest = scorer.forest
    shap_threads_allow(False)
    try:
        blocked = forest.shap(many)
    finally:
        shap_threads_allow(True)
    phi = np.zeros((count, forest.n_features))
    pred = np.zeros(count)
    leaves = forest._leaves
    forest_kernels.shap_serial(
        many, *forest._nodes, forest._tree_weight,
        *(leaves[name] for name in ("leaf_node", "leaf_tree", "path_ptr", "path_node",
                                    "path_left", "path_slot", "slot_ptr", "slot_feature",
                                    "slot_z", "k_ptr")),
        forest._k, phi, pred,
    )  # fmt: skip
    np.testing.assert_array_equal(blocked[0], phi)
    np.testing.assert_array_equal(blocked[1], pred + forest.bias)
    one_by_one = [forest.shap(many[i : i + 1]) for i in (0, count - 1)]
    np.testing.assert_array_equal(blocked[0][[0, -1]], np.vstack([o[0] for o in one_by_one]))


def test_explanations_kept_to_one_core_are_the_threaded_ones_bit_for_bit(
    scorer: Scorer, rows: np.ndarray
) -> None:
    many = rows[: 2 * THREADED_FROM_ROWS]
    threaded = scorer.forest.shap(many)
    shap_threads_allow(False)
    try:
        one_core = scorer.forest.shap(many)
    finally:
        shap_threads_allow(True)
    np.testing.assert_array_equal(one_core[0], threaded[0])
    np.testing.assert_array_equal(one_core[1], threaded[1])


@pytest.mark.parametrize("allowed", [False, True])
def test_a_process_kept_to_one_core_starts_no_thread_to_explain_many_rows(allowed) -> None:
    """In a fresh process (numba starts its thread pool once, at the first threaded call):
    kept to one core, a chunk's worth of rows leaves the pool unstarted; allowed, it starts."""
    script = textwrap.dedent(
        f"""
        import numpy as np, lightgbm as lgb, numba
        from scoring.ml.serving import forest
        rng = np.random.default_rng(3)
        X = rng.normal(size=(400, 6)).astype(np.float32)
        y = (X[:, 0] + rng.normal(size=400) > 0).astype(int)
        params = {{"objective": "binary", "num_leaves": 8, "verbosity": -1, "num_threads": 1}}
        booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=5)
        model = forest.Forest([forest.trees_from_lightgbm(booster)], [1.0], n_features=6)
        forest.shap_threads_allow({allowed})
        model.shap(X[:64])
        try:
            print("pool", numba.threading_layer())
        except ValueError:
            print("no pool")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("pool" if allowed else "no pool"), done.stdout


# --- the served ensemble --------------------------------------------------------------------


def test_ensemble_shap_adds_up_to_the_served_logit(scorer: Scorer, rows: np.ndarray) -> None:
    explanation = scorer.explain(rows)
    served = scorer.logit(rows)  # the prediction kernel, independent of the SHAP pass
    assert np.max(np.abs(explanation.base_value + explanation.contributions.sum(1) - served)) < 1e-6
    assert explanation.additivity_error() < 1e-6
    np.testing.assert_allclose(explanation.probability, scorer.predict(rows), atol=1e-12)
    one = scorer.explain(rows[:1])
    assert abs(one.base_value + one.contributions.sum() - served[0]) < 1e-6


def test_served_logit_is_the_calibrated_stack_of_the_native_models(
    scorer: Scorer, rows: np.ndarray
) -> None:
    bundle = scorer.bundle
    margins = np.column_stack(
        [LEARNERS[m].margins(bundle.native_model(m), rows) for m in BASE_MODELS]
    )
    stacked = margins @ np.array([scorer.meta_weights[m] for m in BASE_MODELS])
    expected = scorer.slope * (stacked + scorer.meta_intercept) + scorer.calibration_intercept
    np.testing.assert_allclose(scorer.logit(rows), expected, atol=1e-5)


def test_ensemble_shap_equals_the_libraries_combined_treeshap(
    scorer: Scorer, rows: np.ndarray
) -> None:
    bundle = scorer.bundle
    models = {m: bundle.native_model(m) for m in BASE_MODELS}
    base, native = native_contributions(
        models,
        scorer.meta_weights,
        scorer.meta_intercept,
        scorer.slope,
        scorer.calibration_intercept,
        rows,
    )
    explanation = scorer.explain(rows)
    np.testing.assert_allclose(explanation.contributions, native, atol=1e-5)
    np.testing.assert_allclose(base, explanation.base_value, atol=1e-5)


# --- readable groups -----------------------------------------------------------------------


def test_grouped_contributions_use_readable_names_and_still_add_up(
    scorer: Scorer, rows: np.ndarray
) -> None:
    explanation = scorer.explain(rows[:3])
    groups = FeatureGroups(scorer.specs)
    for r in range(3):
        items = groups.rows(explanation, r)
        total = explanation.base_value + sum(i["contribution"] for i in items)
        assert abs(total - explanation.logit[r]) < 1e-6
        names = [i["feature"] for i in items]
        assert len(names) == len(set(names)) < len(scorer.feature_names)
        assert "NAME_INCOME_TYPE" in names and "NAME_INCOME_TYPE_CODE" not in names
        magnitudes = [abs(i["contribution"]) for i in items]
        assert magnitudes == sorted(magnitudes, reverse=True)
    by_name = {i["feature"]: i for i in groups.rows(explanation, 0)}
    code = rows[0][scorer.feature_names.index("NAME_INCOME_TYPE_CODE")]
    vocabulary = next(s.vocabulary for s in scorer.specs if s.name == "NAME_INCOME_TYPE_CODE")
    assert by_name["NAME_INCOME_TYPE"]["value"] == vocabulary[int(code)]
    credit = rows[0][scorer.feature_names.index("AMT_CREDIT")]
    assert by_name["AMT_CREDIT"]["value"] == pytest.approx(float(credit))


def test_top_risk_factors_are_the_largest_risk_raising_contributions() -> None:
    items = [
        {"feature": "a", "value": 1, "contribution": 0.2},
        {"feature": "b", "value": 2, "contribution": -0.9},
        {"feature": "c", "value": 3, "contribution": 0.5},
        {"feature": "d", "value": 4, "contribution": 0.0},
    ]
    assert [i["feature"] for i in top_risk_factors(items, k=5)] == ["c", "a"]
    assert [i["feature"] for i in top_risk_factors(items, k=1)] == ["c"]


# --- one applicant -----------------------------------------------------------------------------


def test_score_one_matches_batch_scoring(scorer: Scorer, home_credit_sample_dir) -> None:
    app = sample_tables(home_credit_sample_dir)["application_train"]
    batch = sample_features(home_credit_sample_dir)
    batch_p = scorer.predict(batch.X)
    bureau_ids = set(sample_tables(home_credit_sample_dir)["bureau"]["SK_ID_CURR"])
    with_history = next(i for i in range(len(app)) if app["SK_ID_CURR"].iloc[i] in bureau_ids)
    for i in (with_history, 1):
        sk = int(app["SK_ID_CURR"].iloc[i])
        history = applicant_history(home_credit_sample_dir, sk)
        record = app.iloc[i].to_dict()
        result = scorer.score_one(record, {t: f.to_dict("records") for t, f in history.items()})
        assert result.probability_of_default == pytest.approx(batch_p[i], abs=1e-6)
        total = result.base_value + sum(c["contribution"] for c in result.contributions)
        assert abs(total - result.logit) < 1e-6
        assert result.model_version == scorer.version
        assert all(c["contribution"] > 0 for c in result.top_risk_factors)
        assert all(c["description"] for c in result.top_risk_factors)


def test_score_one_without_an_id_links_inline_history_to_the_applicant(scorer: Scorer) -> None:
    application = dict(SEED_APPLICATION_ROW)
    late = [
        {"SK_ID_PREV": 1, "DAYS_INSTALMENT": -30.0 * k, "DAYS_ENTRY_PAYMENT": -30.0 * k + 40,
         "AMT_INSTALMENT": 1000.0, "AMT_PAYMENT": 500.0}
        for k in range(1, 13)
    ]  # fmt: skip
    alone = scorer.score_one(application)
    with_history = scorer.score_one(application, {"installments_payments": late})
    assert with_history.features["INST_COUNT"] == 12
    assert with_history.features["INST_LATE_MEAN"] == 1.0
    assert alone.features["INST_COUNT"] == 0
    assert 0 < alone.probability_of_default < 1


def test_score_many_gives_each_applicant_its_score_one_result(
    scorer: Scorer, home_credit_sample_dir
) -> None:
    tables = sample_tables(home_credit_sample_dir)
    app = tables["application_train"]
    with_bureau = app[app["SK_ID_CURR"].isin(set(tables["bureau"]["SK_ID_CURR"]))].head(6)
    applications, histories = [], []
    for record in [*with_bureau.to_dict("records"), app.iloc[1].to_dict()]:
        history = applicant_history(home_credit_sample_dir, int(record["SK_ID_CURR"]))
        applications.append(record)
        histories.append({t: f.to_dict("records") for t, f in history.items()})
    histories[-1] = None  # an applicant scored without any history
    # Two applicants whose inline bureau credits share an id must not see each other's.
    credit = {"SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active", "AMT_CREDIT_SUM_OVERDUE": 0.0}

    def month(status: str) -> dict:
        return {"SK_ID_BUREAU": 1, "MONTHS_BALANCE": -1, "STATUS": status}

    applications += [dict(applications[0]), dict(applications[0])]
    histories += [
        {"bureau": [credit], "bureau_balance": [month("5")]},
        {"bureau": [credit], "bureau_balance": [month("C")]},
    ]
    many = scorer.score_many(applications, histories)
    assert len(many) == len(applications)
    for result, application, history in zip(many, applications, histories, strict=True):
        one = scorer.score_one(application, history)
        assert result.logit == pytest.approx(one.logit, abs=1e-9)
        assert [c["feature"] for c in result.contributions[:10]] == [
            c["feature"] for c in one.contributions[:10]
        ]
        total = result.base_value + sum(c["contribution"] for c in result.contributions)
        assert abs(total - result.logit) < 1e-6
    assert many[-1].logit != many[-2].logit  # the overdue bureau month counts for one only
    assert scorer.score_many([], []) == []


def test_probabilities_without_explanations_are_the_scores_bit_for_bit(
    scorer: Scorer, home_credit_sample_dir
) -> None:
    """Counteroffer candidates are scored without explanations (a walk down each tree when
    nobody is 62 or over, full SHAP when the age rule may apply): an accepted offer must be
    scored at exactly the probability it was offered at, by either path."""
    app = sample_tables(home_credit_sample_dir)["application_train"]
    records = app.head(40).to_dict("records")
    young = [r for r in records if -r["DAYS_BIRTH"] / 365.25 < 60][:12]
    # The same applicants, aged 70: the age rule applies to them.
    old = [{**r, "DAYS_BIRTH": -int(70 * 365.25)} for r in young]
    assert len(young) >= 8
    for applicants in (young, old, [young[0]], [old[0]]):
        scores = scorer.score_many(applicants, [None] * len(applicants))
        probabilities = scorer.probabilities_many(applicants, [None] * len(applicants))
        assert list(probabilities) == [s.probability_of_default for s in scores]
    assert any(s.age_neutralised > 0 for s in scorer.score_many(old, [None] * len(old)))
    X = sample_features(home_credit_sample_dir).X[:64]
    np.testing.assert_array_equal(scorer.forest.explained_logits(X), scorer.forest.shap(X)[1])
