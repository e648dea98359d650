"""The three base learners behind one interface: fit, raw margins, importance, size.

Every model outputs a raw margin (a logit); the ensemble stacks those. Depth is capped by
the training profiles because the explainer tabulates 2^depth numbers per leaf.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BASE_MODELS: tuple[str, ...] = ("lightgbm", "xgboost", "catboost")


def fit_model(
    library: str,
    params: dict[str, Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    *,
    rounds: int,
    early_stopping: int,
    seed: int,
    threads: int = 2,
) -> tuple[Any, int]:
    """One model; with a validation set, early stopping on its AUC. Returns (model, trees)."""
    if library == "lightgbm":
        import lightgbm as lgb

        full = {
            "objective": "binary",
            "metric": "auc",
            "verbosity": -1,
            "num_threads": threads,
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            **params,
        }
        train = lgb.Dataset(X_train, y_train, free_raw_data=True)
        if X_valid is None:
            model = lgb.train(full, train, num_boost_round=rounds)
            return model, rounds
        valid = lgb.Dataset(X_valid, y_valid, reference=train)
        model = lgb.train(
            full,
            train,
            num_boost_round=rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(early_stopping, verbose=False)],
        )
        best = model.best_iteration or rounds
        return model, best
    if library == "xgboost":
        import xgboost as xgb

        full = {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "tree_method": "hist",
            "nthread": threads,
            "seed": seed,
            **params,
        }
        train = xgb.QuantileDMatrix(X_train, y_train)
        if X_valid is None:
            return xgb.train(full, train, num_boost_round=rounds), rounds
        valid = xgb.DMatrix(X_valid, y_valid)
        model = xgb.train(
            full,
            train,
            num_boost_round=rounds,
            evals=[(valid, "valid")],
            early_stopping_rounds=early_stopping,
            verbose_eval=False,
        )
        best = model.best_iteration + 1
        # Serve exactly the trees that early stopping kept.
        return model[:best], best
    if library == "catboost":
        from catboost import CatBoostClassifier

        model = CatBoostClassifier(
            iterations=rounds,
            thread_count=threads,
            random_seed=seed,
            verbose=False,
            allow_writing_files=False,
            border_count=128,
            eval_metric="AUC",
            **params,
        )
        if X_valid is None:
            model.fit(X_train, y_train)
            return model, rounds
        model.fit(
            X_train,
            y_train,
            eval_set=(X_valid, y_valid),
            early_stopping_rounds=early_stopping,
            use_best_model=True,
        )
        return model, int(model.tree_count_)
    raise ValueError(f"unknown library {library}")


def margins_of(library: str, model: Any, X: np.ndarray) -> np.ndarray:
    """A base model's raw margin (logit) for each row, through its own library."""
    if library == "lightgbm":
        return np.asarray(model.predict(X, raw_score=True), dtype=np.float64)
    if library == "xgboost":
        import xgboost as xgb

        return np.asarray(model.predict(xgb.DMatrix(X), output_margin=True), dtype=np.float64)
    return np.asarray(model.predict(X, prediction_type="RawFormulaVal"), dtype=np.float64)


def gains(library: str, model: Any, n_features: int) -> np.ndarray:
    if library == "lightgbm":
        return np.asarray(model.feature_importance(importance_type="gain"), dtype=np.float64)
    if library == "xgboost":
        scores = model.get_score(importance_type="total_gain")
        out = np.zeros(n_features)
        for key, value in scores.items():
            out[int(key[1:])] = value  # keys are f<index>
        return out
    return np.asarray(model.get_feature_importance(), dtype=np.float64)


def tree_count(library: str, model: Any) -> int:
    if library == "lightgbm":
        return int(model.num_trees())
    if library == "xgboost":
        return int(model.num_boosted_rounds())
    return int(model.tree_count_)
