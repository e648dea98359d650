"""Optional Optuna tuning of each base library before the K-fold run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from scoring.ml.training.learners import LEARNERS
from scoring.ml.training.metrics import roc_auc
from scoring.ml.training.profiles import Profile


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
    import optuna  # heavy optional library: only when tuning is asked for

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tr, va = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed)
    base = dict(getattr(profile, library))
    learner = LEARNERS[library]

    def objective(trial: Any) -> float:
        params = {**base, **learner.search_space(trial)}
        model, _ = learner.fit(
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
        return roc_auc(y[va], learner.margins(model, X[va]))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    say(f"{library}: tuned over {trials} trials, best AUC {study.best_value:.4f}")
    return {**base, **study.best_params}
