"""The three learning libraries behind one interface: one adapter class per library.

Everything that differs between LightGBM, XGBoost and CatBoost lives in its adapter: how a
model is fitted with early stopping, its raw margin (a logit), its gains, its size, its native
file in a bundle, its own TreeSHAP (the reference for the compiled explainer), its trees for
the compiled forest, and the parameters tuning searches. Callers loop over `LEARNERS` and
never test a library's name.

The libraries are imported inside the methods: they are heavy (catboost above all), and a web
process that only reads model pages should not pay for them.
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from scoring.ml.serving.forest import (
    Trees,
    trees_from_catboost,
    trees_from_lightgbm,
    trees_from_xgboost,
)


class Learner(ABC):
    """One learning library: fit, predict raw margins, explain, serialise."""

    name: str
    #: Where the native model file sits inside a bundle.
    bundle_file: str

    @abstractmethod
    def fit(
        self,
        params: dict[str, Any],
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_valid: np.ndarray | None,
        y_valid: np.ndarray | None,
        *,
        rounds: int,
        early_stopping: int,
        seed: int,
        threads: int,
    ) -> tuple[Any, int]:
        """One model; with a validation set, early stopping on its AUC. (model, trees)."""

    @abstractmethod
    def margins(self, model: Any, X: np.ndarray) -> np.ndarray:
        """The raw margin (logit) of each row, through the library itself."""

    @abstractmethod
    def gains(self, model: Any, n_features: int) -> np.ndarray:
        """Total gain per feature."""

    @abstractmethod
    def tree_count(self, model: Any) -> int: ...

    @abstractmethod
    def to_bytes(self, model: Any) -> bytes:
        """The model in the library's own file format (no pickles)."""

    @abstractmethod
    def from_bytes(self, data: bytes) -> Any: ...

    @abstractmethod
    def native_contributions(self, model: Any, X: np.ndarray) -> np.ndarray:
        """The library's own TreeSHAP: (rows, features + 1), the bias last."""

    @abstractmethod
    def trees(self, model: Any) -> tuple[Trees, float]:
        """The model's trees for the compiled forest, and its constant margin."""

    @abstractmethod
    def search_space(self, trial: Any) -> dict[str, Any]:
        """The key parameters an Optuna trial suggests."""


class LightGBMLearner(Learner):
    name = "lightgbm"
    bundle_file = "models/lightgbm.txt"

    def fit(
        self, params, X_train, y_train, X_valid, y_valid, *, rounds, early_stopping, seed, threads
    ):
        import lightgbm as lgb  # heavy: loaded when a model is trained

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
            return lgb.train(full, train, num_boost_round=rounds), rounds
        valid = lgb.Dataset(X_valid, y_valid, reference=train)
        model = lgb.train(
            full,
            train,
            num_boost_round=rounds,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(early_stopping, verbose=False)],
        )
        return model, model.best_iteration or rounds

    def margins(self, model, X):
        return np.asarray(model.predict(X, raw_score=True), dtype=np.float64)

    def gains(self, model, n_features):
        return np.asarray(model.feature_importance(importance_type="gain"), dtype=np.float64)

    def tree_count(self, model):
        return int(model.num_trees())

    def to_bytes(self, model):
        return model.model_to_string().encode()

    def from_bytes(self, data):
        import lightgbm as lgb  # heavy: loaded when a model is loaded

        return lgb.Booster(model_str=data.decode())

    def native_contributions(self, model, X):
        return np.asarray(model.predict(X, pred_contrib=True), dtype=np.float64)

    def trees(self, model):
        return trees_from_lightgbm(model)

    def search_space(self, trial):
        return {
            "num_leaves": trial.suggest_int("num_leaves", 7, 63),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.15, 0.8),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-2, 50.0, log=True),
        }


class XGBoostLearner(Learner):
    name = "xgboost"
    bundle_file = "models/xgboost.ubj"

    def fit(
        self, params, X_train, y_train, X_valid, y_valid, *, rounds, early_stopping, seed, threads
    ):
        import xgboost as xgb  # heavy: loaded when a model is trained

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
        model = xgb.train(
            full,
            train,
            num_boost_round=rounds,
            evals=[(xgb.DMatrix(X_valid, y_valid), "valid")],
            early_stopping_rounds=early_stopping,
            verbose_eval=False,
        )
        best = model.best_iteration + 1
        # Serve exactly the trees that early stopping kept.
        return model[:best], best

    def margins(self, model, X):
        import xgboost as xgb  # heavy: loaded with the model

        return np.asarray(model.predict(xgb.DMatrix(X), output_margin=True), dtype=np.float64)

    def gains(self, model, n_features):
        out = np.zeros(n_features)
        for key, value in model.get_score(importance_type="total_gain").items():
            out[int(key[1:])] = value  # keys are f<index>
        return out

    def tree_count(self, model):
        return int(model.num_boosted_rounds())

    def to_bytes(self, model):
        return bytes(model.save_raw("ubj"))

    def from_bytes(self, data):
        import xgboost as xgb  # heavy: loaded when a model is loaded

        booster = xgb.Booster()
        booster.load_model(bytearray(data))
        return booster

    def native_contributions(self, model, X):
        import xgboost as xgb  # heavy: loaded with the model

        return np.asarray(model.predict(xgb.DMatrix(X), pred_contribs=True), dtype=np.float64)

    def trees(self, model):
        return trees_from_xgboost(model)

    def search_space(self, trial):
        return {
            "max_depth": trial.suggest_int("max_depth", 3, 7),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 30.0, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.15, 0.8),
            "lambda": trial.suggest_float("lambda", 1e-2, 50.0, log=True),
        }


class CatBoostLearner(Learner):
    name = "catboost"
    bundle_file = "models/catboost.cbm"

    def fit(
        self, params, X_train, y_train, X_valid, y_valid, *, rounds, early_stopping, seed, threads
    ):
        from catboost import CatBoostClassifier  # heavy optional library: ~1 s to import

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

    def margins(self, model, X):
        return np.asarray(model.predict(X, prediction_type="RawFormulaVal"), dtype=np.float64)

    def gains(self, model, n_features):
        return np.asarray(model.get_feature_importance(), dtype=np.float64)

    def tree_count(self, model):
        return int(model.tree_count_)

    def to_bytes(self, model):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "model.cbm"
            model.save_model(str(target), format="cbm")
            return target.read_bytes()

    def from_bytes(self, data):
        from catboost import CatBoost  # heavy optional library: ~1 s to import

        return CatBoost().load_model(blob=data)

    def native_contributions(self, model, X):
        from catboost import Pool  # heavy optional library: ~1 s to import

        return np.asarray(
            model.get_feature_importance(Pool(X), type="ShapValues"), dtype=np.float64
        )

    def trees(self, model):
        return trees_from_catboost(model)

    def search_space(self, trial):
        return {
            "depth": trial.suggest_int("depth", 4, 7),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 50.0, log=True),
            "rsm": trial.suggest_float("rsm", 0.15, 0.8),
        }


#: The ensemble's libraries, in stacking order (the meta-learner's inputs).
LEARNERS: dict[str, Learner] = {
    learner.name: learner for learner in (LightGBMLearner(), XGBoostLearner(), CatBoostLearner())
}
BASE_MODELS: tuple[str, ...] = tuple(LEARNERS)
