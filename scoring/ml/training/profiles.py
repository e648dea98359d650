"""Training profiles: how hard to train, from a test's seconds to the production model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    """How hard to train. Depths are capped: the explainer tabulates 2^depth per leaf."""

    name: str
    folds: int
    holdout: float
    max_rounds: int
    early_stopping: int
    lightgbm: dict[str, Any]
    xgboost: dict[str, Any]
    catboost: dict[str, Any]
    refit_multiplier: float = 1.1
    calibration_folds: int = 5
    #: OpenMP threads per model. On tiny data (tests) one thread is faster, and on a busy
    #: machine two spinning threads per core pair can be several times slower.
    threads: int = 2


PROFILES: dict[str, Profile] = {
    # For tests: seconds on the real sample.
    "test": Profile(
        name="test",
        folds=2,
        holdout=0.25,
        max_rounds=40,
        early_stopping=10,
        lightgbm={"learning_rate": 0.2, "num_leaves": 7, "max_depth": 3, "min_data_in_leaf": 20},
        xgboost={"eta": 0.2, "max_depth": 3, "min_child_weight": 2},
        catboost={"learning_rate": 0.2, "depth": 3},
        calibration_folds=3,
        threads=1,
    ),
    # The demo and quick iterations: scale 0.1 end to end in a few minutes on 2 cores.
    "fast": Profile(
        name="fast",
        folds=3,
        holdout=0.15,
        max_rounds=500,
        early_stopping=40,
        lightgbm={
            "learning_rate": 0.08,
            "num_leaves": 15,
            "max_depth": 6,
            "min_data_in_leaf": 40,
            "feature_fraction": 0.35,
            "bagging_fraction": 0.85,
            "bagging_freq": 1,
            "lambda_l2": 5.0,
        },
        xgboost={
            "eta": 0.08,
            "max_depth": 4,
            "min_child_weight": 4,
            "subsample": 0.85,
            "colsample_bytree": 0.35,
            "lambda": 5.0,
        },
        catboost={"learning_rate": 0.1, "depth": 5, "l2_leaf_reg": 5.0, "rsm": 0.35},
    ),
    # The production model: more folds, smaller steps, more trees.
    "full": Profile(
        name="full",
        folds=5,
        holdout=0.15,
        max_rounds=4000,
        early_stopping=200,
        lightgbm={
            "learning_rate": 0.03,
            "num_leaves": 31,
            "max_depth": 8,
            "min_data_in_leaf": 50,
            "feature_fraction": 0.3,
            "bagging_fraction": 0.85,
            "bagging_freq": 1,
            "lambda_l2": 5.0,
        },
        xgboost={
            "eta": 0.03,
            "max_depth": 5,
            "min_child_weight": 5,
            "subsample": 0.85,
            "colsample_bytree": 0.3,
            "lambda": 5.0,
        },
        catboost={"learning_rate": 0.05, "depth": 6, "l2_leaf_reg": 5.0, "rsm": 0.3},
    ),
}
