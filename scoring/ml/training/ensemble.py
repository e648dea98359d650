"""Training the stacked, calibrated LightGBM + XGBoost + CatBoost ensemble.

The scheme, and why:

1. **Split.** A stratified share of the rows (``holdout``) is set aside before anything is
   fitted: the calibrator is fitted there, and only there the final models are checked.
2. **K-fold on the rest** ("dev"). Each library is trained K times with early stopping on
   the left-out fold, giving out-of-fold (OOF) raw margins (logits) for every dev row and
   the number of trees each fold needed.
3. **Meta-learner.** A logistic regression on the three OOF logits: ``z = b + sum_m w_m
   logit_m``. Stacking logits (not probabilities) keeps the ensemble linear in the models'
   raw outputs, so their TreeSHAP values combine exactly.
4. **Serving models: refit, not a fold average.** Each library is refitted on all dev rows
   with 1.1 x the mean best fold size. One model per library keeps SHAP at three models'
   cost (an average of K fold models would be exact too, but K times slower to explain).
5. **Calibration.** Platt scaling on the held-out rows: ``logit(p) = a z + c``, fitted on
   the serving models' stacked logit, which those models never trained on. The calibrated
   logit is an affine map of ``z``, so SHAP stays exact: contributions are ``a w_m phi_m``
   and the base value ``a (b + sum_m w_m phi0_m) + c``. The calibration is *checked* by
   cross-fitting on the holdout (each row's calibrated PD comes from a calibrator fitted on
   the other folds), and the final calibrator is then fitted on the whole holdout.
6. **Optuna (optional).** With ``trials > 0`` each library's key parameters are tuned first
   on one stratified split of dev, ``trials`` trials per library.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

from scoring.ml.features.build import FeatureSet
from scoring.ml.monitoring import reference_distributions
from scoring.ml.probability import sigmoid
from scoring.ml.serving.explain import native_contributions
from scoring.ml.training.learners import BASE_MODELS, LEARNERS
from scoring.ml.training.metrics import (
    DEFAULT_THRESHOLD,
    fairness_report,
    importance_table,
    pd_histogram,
    roc_auc,
    roc_points,
    score_metrics,
)
from scoring.ml.training.profiles import PROFILES, Profile
from scoring.ml.training.tuning import tune

Progress = Callable[[str], None]

logger = logging.getLogger(__name__)


@dataclass
class TrainedEnsemble:
    """Everything a bundle needs: native models, stacking weights, calibration, metrics."""

    models: dict[str, Any]  # lightgbm.Booster, xgboost.Booster, catboost.CatBoost
    meta_weights: dict[str, float]
    meta_intercept: float
    calibration_slope: float
    calibration_intercept: float
    feature_names: list[str]
    metrics: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    #: Indices of the held-out rows (the age rule's figures are taken on them).
    holdout_rows: np.ndarray | None = field(default=None, repr=False)

    def stacked_logit(self, margins: np.ndarray) -> np.ndarray:
        """Meta-learner logit from base margins (rows x BASE_MODELS)."""
        w = np.array([self.meta_weights[m] for m in BASE_MODELS])
        return margins @ w + self.meta_intercept

    def calibrated_logit(self, margins: np.ndarray) -> np.ndarray:
        return self.calibration_slope * self.stacked_logit(margins) + self.calibration_intercept


# --- the ensemble ---------------------------------------------------------------------------


def train_ensemble(
    features: FeatureSet,
    target: np.ndarray | None = None,
    profile: str = "fast",
    trials: int = 0,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    oracle: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> TrainedEnsemble:
    """Train, stack and calibrate the three base models on ``features``.

    ``target`` defaults to ``features.target``. ``oracle`` (true probabilities of the same
    rows, when the data came from the generator) puts the oracle AUC beside every AUC.
    ``progress`` receives one line per fold and model with the elapsed time.
    """
    started = time.perf_counter()
    say = _timed(progress, started)
    prof = PROFILES[profile]
    X = features.X
    y = np.asarray(features.target if target is None else target).astype(np.int8)
    dev, hold = _split(X, y, prof.holdout, seed)
    say(
        f"profile {prof.name}: {len(dev):,} rows in {prof.folds} folds, {len(hold):,} held out "
        f"for calibration; {X.shape[1]} features, default rate {y.mean():.4f}"
    )
    params = {m: dict(getattr(prof, m)) for m in BASE_MODELS}
    if trials > 0:
        for library in BASE_MODELS:
            params[library] = tune(library, prof, X[dev], y[dev], trials, seed, say)

    folds = list(StratifiedKFold(prof.folds, shuffle=True, random_state=seed).split(dev, y[dev]))
    oof, best = _out_of_fold(X, y, dev, folds, params, prof, seed, say)

    meta_w, meta_b, stacked_oof = _fit_meta(oof, y[dev], folds)
    say(
        "meta-learner weights "
        + ", ".join(f"{m} {w:+.3f}" for m, w in zip(BASE_MODELS, meta_w, strict=True))
        + f"; stacked OOF AUC {roc_auc(y[dev], stacked_oof):.4f}"
    )

    models, hold_margins = _refit(X, y, dev, hold, best, params, prof, seed, say)

    z_hold = hold_margins @ meta_w + meta_b
    slope, intercept, p_crossfit = _calibrate(z_hold, y[hold], prof.calibration_folds, seed)
    say(
        f"Platt calibration on {len(hold):,} held-out rows: logit(p) = {slope:.4f} z "
        f"{intercept:+.4f}; cross-fitted held-out AUC {roc_auc(y[hold], p_crossfit):.4f}"
    )

    metrics = _metrics(
        features=features,
        y=y,
        dev=dev,
        hold=hold,
        oof=oof,
        stacked_oof=stacked_oof,
        hold_margins=hold_margins,
        z_hold=z_hold,
        p_crossfit=p_crossfit,
        calibration=(slope, intercept),
        meta=(dict(zip(BASE_MODELS, map(float, meta_w), strict=True)), float(meta_b)),
        models=models,
        oracle=oracle,
        threshold=threshold,
    )
    say(
        f"done: ensemble OOF AUC {metrics['ensemble']['oof']['roc_auc']:.4f}, held-out "
        f"calibrated AUC {metrics['ensemble']['holdout_calibrated']['roc_auc']:.4f}"
    )
    return TrainedEnsemble(
        models=models,
        meta_weights={m: float(w) for m, w in zip(BASE_MODELS, meta_w, strict=True)},
        meta_intercept=float(meta_b),
        calibration_slope=float(slope),
        calibration_intercept=float(intercept),
        feature_names=list(features.feature_names),
        metrics=metrics,
        holdout_rows=hold,
        training={
            "profile": prof.name,
            "seed": seed,
            "trials": trials,
            **_sizes(prof, dev, hold, params, best, models),
            "seconds": round(time.perf_counter() - started, 1),
        },
    )


def _sizes(
    prof: Profile,
    dev: np.ndarray,
    hold: np.ndarray,
    params: dict[str, dict[str, Any]],
    best: dict[str, list[int]],
    models: dict[str, Any],
) -> dict[str, Any]:
    """How the ensemble was cut: folds, rows, parameters and trees, for training.json."""
    return {
        "folds": prof.folds,
        "holdout_share": prof.holdout,
        "rows": {"dev": len(dev), "holdout": len(hold)},
        "params": params,
        "fold_trees": best,
        "final_trees": {m: LEARNERS[m].tree_count(models[m]) for m in BASE_MODELS},
    }


def _timed(progress: Progress | None, started: float) -> Progress:
    """Progress lines stamped with the seconds since `started`: to the caller, or the log."""

    def say(message: str) -> None:
        line = f"[{time.perf_counter() - started:7.1f}s] {message}"
        if progress is None:
            logger.info(line)
        else:  # the caller shows it; logging it too would print every line twice
            progress(line)

    return say


def _split(X: np.ndarray, y: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, ...]:
    """Dev rows (K-fold and refit) and held-out rows (calibration), stratified, sorted."""
    if X.shape[0] != y.shape[0]:
        raise ValueError("features and target differ in length")
    if set(np.unique(y)) != {0, 1}:
        raise ValueError("the target must hold both 0 and 1 (and nothing else)")
    dev, hold = train_test_split(
        np.arange(len(y)), test_size=holdout, stratify=y, random_state=seed, shuffle=True
    )
    return np.sort(dev), np.sort(hold)


def _out_of_fold(
    X: np.ndarray,
    y: np.ndarray,
    dev: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    params: dict[str, dict[str, Any]],
    prof: Profile,
    seed: int,
    say: Progress,
) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Each library K times with early stopping: out-of-fold margins of every dev row, and
    the number of trees each fold kept."""
    oof = np.zeros((len(dev), len(BASE_MODELS)))
    best: dict[str, list[int]] = {m: [] for m in BASE_MODELS}
    for j, library in enumerate(BASE_MODELS):
        for k, (tr, va) in enumerate(folds):
            t0 = time.perf_counter()
            model, trees = LEARNERS[library].fit(
                params[library],
                X[dev[tr]],
                y[dev[tr]],
                X[dev[va]],
                y[dev[va]],
                rounds=prof.max_rounds,
                early_stopping=prof.early_stopping,
                seed=seed + k,
                threads=prof.threads,
            )
            oof[va, j] = LEARNERS[library].margins(model, X[dev[va]])
            best[library].append(trees)
            say(
                f"{library} fold {k + 1}/{prof.folds}: AUC {roc_auc(y[dev[va]], oof[va, j]):.4f}, "
                f"{trees} trees ({time.perf_counter() - t0:.1f}s)"
            )
            del model
    return oof, best


def _refit(
    X: np.ndarray,
    y: np.ndarray,
    dev: np.ndarray,
    hold: np.ndarray,
    best: dict[str, list[int]],
    params: dict[str, dict[str, Any]],
    prof: Profile,
    seed: int,
    say: Progress,
) -> tuple[dict[str, Any], np.ndarray]:
    """The served models: each library refitted on all dev rows with 1.1 x its mean fold
    size, and their margins on the held-out rows."""
    models: dict[str, Any] = {}
    hold_margins = np.zeros((len(hold), len(BASE_MODELS)))
    for j, library in enumerate(BASE_MODELS):
        t0 = time.perf_counter()
        rounds = max(1, round(float(np.mean(best[library])) * prof.refit_multiplier))
        models[library], _ = LEARNERS[library].fit(
            params[library],
            X[dev],
            y[dev],
            None,
            None,
            rounds=rounds,
            early_stopping=prof.early_stopping,
            seed=seed,
            threads=prof.threads,
        )
        hold_margins[:, j] = LEARNERS[library].margins(models[library], X[hold])
        say(
            f"{library} refit on all {len(dev):,} dev rows: {rounds} trees, held-out AUC "
            f"{roc_auc(y[hold], hold_margins[:, j]):.4f} ({time.perf_counter() - t0:.1f}s)"
        )
    return models, hold_margins


def _fit_meta(
    oof: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, float, np.ndarray]:
    """Logistic regression on the OOF logits, and its own cross-fitted stacked logits."""

    def fit(rows: np.ndarray) -> LogisticRegression:
        # Three inputs, thousands of rows: regularisation only guards against collinearity.
        return LogisticRegression(C=10.0, max_iter=1000).fit(oof[rows], y[rows])

    stacked = np.zeros(len(y))
    for tr, va in folds:
        stacked[va] = fit(tr).decision_function(oof[va])
    final = fit(np.arange(len(y)))
    return final.coef_[0].astype(np.float64), float(final.intercept_[0]), stacked


def _calibrate(
    z: np.ndarray, y: np.ndarray, folds: int, seed: int
) -> tuple[float, float, np.ndarray]:
    """Platt scaling of the stacked logit: cross-fitted PDs to check it, and the final fit."""

    def fit(rows: np.ndarray) -> tuple[float, float]:
        # No regularisation: two parameters, and C would pull the slope toward 0.
        model = LogisticRegression(C=np.inf, max_iter=1000).fit(z[rows, None], y[rows])
        return float(model.coef_[0, 0]), float(model.intercept_[0])

    n_folds = max(2, min(folds, int(y.sum()), int((1 - y).sum())))
    crossfit = np.zeros(len(y))
    for tr, va in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(z, y):
        a, c = fit(tr)
        crossfit[va] = sigmoid(a * z[va] + c)
    a, c = fit(np.arange(len(y)))
    return a, c, crossfit


def _metrics(
    *,
    features: FeatureSet,
    y: np.ndarray,
    dev: np.ndarray,
    hold: np.ndarray,
    oof: np.ndarray,
    stacked_oof: np.ndarray,
    hold_margins: np.ndarray,
    z_hold: np.ndarray,
    p_crossfit: np.ndarray,
    calibration: tuple[float, float],
    meta: tuple[dict[str, float], float],
    models: dict[str, Any],
    oracle: np.ndarray | None,
    threshold: float,
) -> dict[str, Any]:
    """Per base model and for the ensemble: OOF (fold models) and held-out (served models).

    The ensemble's held-out calibrated figures use the cross-fitted PDs, i.e. each row
    scored through a calibrator that did not see it; fairness is measured on them too.
    """
    o_dev = None if oracle is None else np.asarray(oracle)[dev]
    o_hold = None if oracle is None else np.asarray(oracle)[hold]
    slope, intercept = calibration
    out: dict[str, Any] = {"base_models": {}}
    for j, library in enumerate(BASE_MODELS):
        out["base_models"][library] = {
            "oof": score_metrics(y[dev], sigmoid(oof[:, j]), oracle=o_dev),
            "holdout": score_metrics(y[hold], sigmoid(hold_margins[:, j]), oracle=o_hold),
            "importance": importance_table(
                features.feature_names,
                LEARNERS[library].gains(models[library], features.X.shape[1]),
            ),
        }
    out["ensemble"] = {
        "oof": score_metrics(y[dev], sigmoid(stacked_oof), oracle=o_dev),
        "holdout_uncalibrated": score_metrics(y[hold], sigmoid(z_hold), oracle=o_hold),
        "holdout_calibrated": score_metrics(y[hold], p_crossfit, oracle=o_hold),
        "calibration": {"method": "platt", "slope": slope, "intercept": intercept},
        "importance": _ensemble_importance(features, hold, models, meta, calibration),
    }
    # What the model pages draw (ROC, the confusion matrix at any policy) and what drift is
    # measured against; bundles written before these keys existed simply lack them.
    out["ensemble"]["curves"] = {
        "roc": roc_points(y[hold], p_crossfit),
        "oracle_roc": None if o_hold is None else roc_points(y[hold], o_hold),
        "pd_histogram": pd_histogram(y[hold], p_crossfit),
        # Per protected group, so fairness can be read at whatever thresholds a policy sets.
        "group_pd_histograms": _group_histograms(features, hold, y[hold], p_crossfit),
        # The rows themselves (a sample of them), so the model pages can run the same
        # fair-lending audit as compliance does, at any policy's thresholds and bands.
        "audit_rows": audit_rows(features, hold, y[hold], p_crossfit),
    }
    out["reference"] = reference_distributions(
        X=features.X[hold],
        feature_names=features.feature_names,
        importance=out["ensemble"]["importance"]["top"],
        probabilities=p_crossfit,
    )
    best_base = max(out["base_models"][m]["oof"]["roc_auc"] for m in BASE_MODELS)
    out["headline"] = {
        "ensemble_oof_auc": out["ensemble"]["oof"]["roc_auc"],
        "best_base_oof_auc": best_base,
        "holdout_auc": out["ensemble"]["holdout_calibrated"]["roc_auc"],
        "holdout_brier": out["ensemble"]["holdout_calibrated"]["brier"],
        "holdout_ks": out["ensemble"]["holdout_calibrated"]["ks"],
        "oracle_oof_auc": out["ensemble"]["oof"].get("oracle_roc_auc"),
        "n_features": int(features.X.shape[1]),
    }
    protected = features.protected.iloc[hold].reset_index(drop=True)
    out["fairness"] = fairness_report(y[hold], p_crossfit, protected, threshold=threshold)
    out["fairness"]["data"] = "held-out rows, cross-fitted calibrated PD"
    if not all(math.isfinite(v) for v in (slope, intercept)):
        raise RuntimeError("calibration failed (non-finite coefficients)")
    return out


#: At most this many held-out rows are kept for the model pages' fairness audit (a seeded
#: random sample beyond it): enough for the <30 "too few" rule to bite only on truly small
#: groups, small enough for the version's metrics to stay under a megabyte.
AUDIT_ROWS_MAX = 20_000


def audit_rows(
    features: FeatureSet, hold: np.ndarray, y: np.ndarray, p: np.ndarray, *, seed: int = 0
) -> dict[str, Any]:
    """Held-out rows as columns: calibrated PD, whether the loan defaulted, gender, age in
    years and family status (categories as codes into a list of values, to stay compact)."""
    protected = features.protected.iloc[hold].reset_index(drop=True)
    keep = np.arange(len(hold))
    if keep.size > AUDIT_ROWS_MAX:
        keep = np.sort(np.random.default_rng(seed).choice(keep, AUDIT_ROWS_MAX, replace=False))

    def categories(column: str) -> dict[str, list]:
        codes, values = pd.factorize(protected[column].astype(str).to_numpy()[keep], sort=True)
        return {"values": [str(v) for v in values], "codes": codes.tolist()}

    ages = protected["AGE_YEARS"].to_numpy(dtype=np.float64)[keep]
    return {
        "held_out": len(hold),
        "pd": [round(float(v), 6) for v in np.asarray(p, dtype=np.float64)[keep]],
        "defaulted": np.asarray(y, dtype=int)[keep].tolist(),
        "age_years": [round(float(a), 2) if math.isfinite(a) else None for a in ages],
        "code_gender": categories("CODE_GENDER"),
        "family_status": categories("NAME_FAMILY_STATUS"),
    }


def _group_histograms(
    features: FeatureSet, hold: np.ndarray, y: np.ndarray, p: np.ndarray
) -> dict[str, dict[str, Any]]:
    protected = features.protected.iloc[hold].reset_index(drop=True)
    out: dict[str, dict[str, Any]] = {}
    for attribute in ("CODE_GENDER", "AGE_BAND"):
        groups = protected[attribute].astype(str).replace("", "unknown").to_numpy()
        out[attribute] = {
            str(g): pd_histogram(y[groups == g], p[groups == g]) for g in np.unique(groups)
        }
    return out


def _ensemble_importance(
    features: FeatureSet,
    hold: np.ndarray,
    models: dict[str, Any],
    meta: tuple[dict[str, float], float],
    calibration: tuple[float, float],
    rows: int = 2000,
) -> dict[str, Any]:
    """The served ensemble's importance: mean |SHAP| (calibrated logit) on held-out rows.

    Gains are not comparable across libraries; SHAP of the one served score is.
    """
    weights, intercept = meta
    slope, calibration_intercept = calibration
    X = features.X[hold[:rows]]
    _, contributions = native_contributions(
        models, weights, intercept, slope, calibration_intercept, X
    )
    table = importance_table(features.feature_names, np.abs(contributions).mean(axis=0))
    return {**table, "type": "mean |SHAP| of the calibrated logit", "rows": int(X.shape[0])}
