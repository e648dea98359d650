"""Optional Optuna tuning of each base library before the K-fold run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scoring.ml.base_models import fit_model, margins_of
from scoring.ml.metrics import roc_auc
from scoring.ml.training import Profile


def tune(
    library: str,
    profile: Profile,
    X: np.ndarray,
    y: np.ndarray,
    trials: int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Optuna TPE over the library's key parameters, ``trials`` trials on one split."""
    import optuna
    from sklearn.model_selection import train_test_split

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tr, va = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed)
    base = dict(getattr(profile, library))

    def suggest(trial: Any) -> dict[str, Any]:
        if library == "lightgbm":
            return {
                "num_leaves": trial.suggest_int("num_leaves", 7, 63),
                "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
                "feature_fraction": trial.suggest_float("feature_fraction", 0.15, 0.8),
                "lambda_l2": trial.suggest_float("lambda_l2", 1e-2, 50.0, log=True),
            }
        if library == "xgboost":
            return {
                "max_depth": trial.suggest_int("max_depth", 3, 7),
                "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 30.0, log=True),
                "colsample_bytree": trial.suggest_float("colsample_bytree", 0.15, 0.8),
                "lambda": trial.suggest_float("lambda", 1e-2, 50.0, log=True),
            }
        return {
            "depth": trial.suggest_int("depth", 4, 7),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 50.0, log=True),
            "rsm": trial.suggest_float("rsm", 0.15, 0.8),
        }

    def objective(trial: Any) -> float:
        params = {**base, **suggest(trial)}
        model, _ = fit_model(
            library,
            params,
            X[tr],
            y[tr],
            X[va],
            y[va],
            rounds=profile.max_rounds,
            early_stopping=profile.early_stopping,
            seed=seed,
            threads=profile.threads,
        )
        return roc_auc(y[va], margins_of(library, model, X[va]))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    say(f"{library}: tuned over {trials} trials, best AUC {study.best_value:.4f}")
    return {**base, **study.best_params}
