"""The model registry: versions on disk and in the database, and the active scorer.

A worker or web process loads the active bundle once and keeps it until another version is
activated; every call checks which version is active with one indexed query.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring.ml.data.history_store import HistoryStore, frames_from_records
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.bundle import BundleError, load_bundle
from scoring.ml.serving.predict import Scorer
from scoring.models import ModelVersion

logger = logging.getLogger(__name__)


class NoActiveModel(Exception):
    """No model version is active: train one and activate it (see README)."""


class RegistryError(Exception):
    """A registry operation that cannot be done, with the reason for the person who asked."""


@dataclass(frozen=True)
class Score:
    probability_of_default: float
    logit: float
    base_value: float
    contributions: list[dict[str, Any]]
    model_version: ModelVersion
    latency_ms: float


# --- versions ------------------------------------------------------------------------------


def active_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def training_permission_check(*, actor: AbstractBaseUser | None) -> None:
    """Refuse a person who may not train models (`actor` None is the operator at the
    command line); called where training starts and again where its bundle is registered."""
    if actor is not None and not actor.has_perm(Perm.TRAIN_MODEL):
        raise PermissionDenied("only model admins may train and register model versions")


def model_version_register(
    *, bundle_path: Path, profile: str, trained_by: AbstractBaseUser | None
) -> ModelVersion:
    """Record a bundle that training wrote (verified on the way in); it starts a candidate.

    `trained_by` None is the operator at the command line; a person must hold the train
    permission.

    The row's headline figures are the ensemble's on held-out rows, with the calibrated
    (cross-fitted) probabilities: what the served model does on data it did not see.
    """
    training_permission_check(actor=trained_by)
    try:
        bundle = load_bundle(bundle_path)
    except (BundleError, FileNotFoundError) as error:
        raise RegistryError(f"bundle {bundle_path}: {error}") from error
    held_out = bundle.metrics["ensemble"]["holdout_calibrated"]
    with transaction.atomic():
        model_version = ModelVersion.objects.create(
            version=bundle.version,
            profile=profile,
            bundle_path=str(Path(bundle_path).resolve()),
            feature_count=len(bundle.features["names"]),
            data_fingerprint=bundle.training.get("fingerprint", {}).get("sha256", ""),
            auc=held_out["roc_auc"],
            gini=held_out["gini"],
            ks=held_out["ks"],
            brier=held_out["brier"],
            oracle_auc=held_out.get("oracle_roc_auc"),
            metrics=bundle.metrics,
            trained_by=trained_by,
        )
        trail.record(
            action=AuditAction.MODEL_TRAINED,
            actor=trained_by,
            target=model_version,
            payload={
                "version": model_version.version,
                "profile": profile,
                "auc": model_version.auc,
                "manifest_sha256": bundle.manifest_sha256,
            },
        )
    return model_version


def model_version_activate(*, version: str, actor: AbstractBaseUser | None) -> ModelVersion:
    """Make `version` the single active one (also how a rollback is done).

    `actor` None is the operator at the command line (`activate_model`); a person must hold
    the activate permission. The bundle is loaded and every checksum verified before
    anything changes.
    """
    if actor is not None and not actor.has_perm(Perm.ACTIVATE_MODEL):
        raise PermissionDenied("only model admins may activate or roll back a model version")
    candidate = ModelVersion.objects.filter(version=version).first()
    if candidate is None:
        raise RegistryError(f"no model version {version!r} (see list_models)")
    _load_verified(candidate)
    with transaction.atomic():
        current = list(
            ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE)
        )
        if any(model.pk == candidate.pk for model in current):
            return candidate
        ModelVersion.objects.filter(pk__in=[m.pk for m in current]).update(
            status=ModelVersion.Status.RETIRED
        )
        candidate.status = ModelVersion.Status.ACTIVE
        candidate.activated_by = actor
        candidate.activated_at = timezone.now()
        candidate.save(update_fields=["status", "activated_by", "activated_at"])
        trail.record(
            action=AuditAction.MODEL_ACTIVATED,
            actor=actor,
            target=candidate,
            payload={
                "version": candidate.version,
                "before": [m.version for m in current],
                "after": candidate.version,
            },
        )
    return candidate


# --- the scorer held by this process ----------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[str, Any] = {"version": None, "scorer": None}
_history: dict[str, Any] = {"path": None, "store": None}


def score_record(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
) -> Score:
    """Score one application with the active model, explained in logit space.

    History: rows given inline are used as they are; otherwise the stored history of
    `external_id` from the data cache; otherwise none.
    """
    return score_records(
        application_rows=[application_row], histories=[history], external_ids=[external_id]
    )[0]


def score_records(
    *,
    application_rows: list[dict[str, Any]],
    histories: list[dict[str, list[dict[str, Any]]] | None],
    external_ids: list[int | None],
) -> list[Score]:
    """Score many applications at once (a batch chunk): one feature build, one SHAP pass.

    Each gets the score `score_record` would give it; `latency_ms` is its share of the time.
    """
    started = time.perf_counter()
    model_version, scorer, store = _active()
    frames = [
        _history_frames(history, external_id, store)
        for history, external_id in zip(histories, external_ids, strict=True)
    ]
    results = scorer.score_many(application_rows, frames)
    each_ms = (time.perf_counter() - started) * 1000 / max(len(results), 1)
    return [
        Score(
            probability_of_default=r.probability_of_default,
            logit=r.logit,
            base_value=r.base_value,
            contributions=r.contributions,
            model_version=model_version,
            latency_ms=each_ms,
        )
        for r in results
    ]


def _active() -> tuple[ModelVersion, Scorer, HistoryStore | None]:
    model_version = active_model_version()
    if model_version is None:
        raise NoActiveModel("no model version is active: run train_model --activate")
    with _lock:
        if _loaded["version"] != model_version.version:
            _loaded["scorer"] = _load_verified(model_version)
            _loaded["version"] = model_version.version
            logger.info("loaded model version %s", model_version.version)
        scorer = _loaded["scorer"]
    return model_version, scorer, history_store()


def history_store() -> HistoryStore | None:
    """This process's one handle on the stored history (the data cache), opened once per
    cache folder; a cache built after the process started is picked up on the next call."""
    path = Path(settings.CREDSCOPE_DATA_DIR) / "cache"
    with _lock:
        if _history["path"] != path or _history["store"] is None:
            _history["store"] = HistoryStore.open_if_present(path)
            _history["path"] = path
        return _history["store"]


def _load_verified(model_version: ModelVersion) -> Scorer:
    try:
        return Scorer.from_bundle(Path(model_version.bundle_path))
    except (BundleError, FileNotFoundError) as error:
        raise RegistryError(f"model version {model_version.version}: {error}") from error


def _history_frames(
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    store: HistoryStore | None,
) -> dict | None:
    if history:
        return {name: frames_from_records(name, history.get(name, [])) for name in HISTORY_TABLES}
    if external_id is not None and store is not None:
        return store.history_for(external_id)
    return None  # no history: every table empty (cheaper than building empty frames)
