"""The model registry: versions on disk and in the database, and the active scorer.

A worker or web process loads the active bundle once and keeps it until another version is
activated; every call checks which version is active with one indexed query.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring.ml.data.history_store import HistoryStore, frames_from_records
from scoring.ml.schema.records import check_input_contract
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
    #: The applicant's rows per history table; what the age rule took off; the directional
    #: measures against the training population (see `scoring.ml.serving.predict`).
    history_rows: dict[str, int] = field(default_factory=dict)
    age_neutralised: float = 0.0
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The challenger set when this score was made (None: none), read in the same query as
    #: the active version, so deciding needs no second look-up.
    challenger_version: str | None = None


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
            # The age rule's held-out figures travel with the metrics the model page shows.
            metrics={**bundle.metrics, "age_rule": bundle.reference.get("age_rule", {})},
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


#: The longest reason a person may give for a promotion, rollback or challenger change.
MAX_REASON = 1000


class ReasonRequired(RegistryError):
    """A promotion or rollback without a written reason."""


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("a reason is required: say why this version should decide")
    if len(text) > MAX_REASON:
        raise ReasonRequired(f"the reason is too long: at most {MAX_REASON} characters")
    return text


def model_version_activate(
    *, version: str, actor: AbstractBaseUser | None, reason: str
) -> ModelVersion:
    """Make `version` the single active one (also how a rollback is done).

    `actor` None is the operator at the command line (`activate_model`); a person must hold
    the activate permission. A written `reason` is required; it is audited with the version
    that was active before and the one active after. The bundle is loaded and every checksum
    verified before anything changes. A challenger that is promoted stops being one.
    """
    if actor is not None and not actor.has_perm(Perm.ACTIVATE_MODEL):
        raise PermissionDenied("only model admins may activate or roll back a model version")
    reason = _clean_reason(reason)
    candidate = ModelVersion.objects.filter(version=version).first()
    if candidate is None:
        raise RegistryError(f"no model version {version!r} (see list_models)")
    scorer = verified_scorer(candidate)
    with transaction.atomic():
        current = list(
            ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE)
        )
        if any(model.pk == candidate.pk for model in current):
            return candidate
        ModelVersion.objects.filter(pk__in=[m.pk for m in current]).update(
            status=ModelVersion.Status.RETIRED
        )
        rollback = candidate.status == ModelVersion.Status.RETIRED
        candidate.status = ModelVersion.Status.ACTIVE
        candidate.is_challenger = False
        candidate.challenger_since = None
        candidate.activated_by = actor
        candidate.activated_at = timezone.now()
        candidate.save(
            update_fields=[
                "status",
                "is_challenger",
                "challenger_since",
                "activated_by",
                "activated_at",
            ]
        )
        # This process keeps the scorer it just verified: its next decision is warm.
        transaction.on_commit(lambda: _keep_loaded(candidate.version, scorer))
        trail.record(
            action=AuditAction.MODEL_ACTIVATED,
            actor=actor,
            target=candidate,
            payload={
                "version": candidate.version,
                "before": [m.version for m in current],
                "after": candidate.version,
                "rollback": rollback,
                "reason": reason,
            },
        )
    return candidate


# --- the scorer held by this process ----------------------------------------------------------

_lock = threading.Lock()
# Loaded scorers by version: the champion, and in a challenger worker the challenger too.
# A version activated or set since is loaded on first use; the oldest others are dropped.
_loaded: dict[str, Scorer] = {}
_MAX_LOADED = 2
_history: dict[str, Any] = {"path": None, "store": None}


def score_record(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    versions: tuple[ModelVersion | None, str | None] | None = None,
) -> Score:
    """Score one application with the active model, explained in logit space.

    History: rows given inline are used as they are; otherwise the stored history of
    `external_id` from the data cache; otherwise none.
    """
    return score_records(
        application_rows=[application_row],
        histories=[history],
        external_ids=[external_id],
        versions=versions,
    )[0]


def score_records(
    *,
    application_rows: list[dict[str, Any]],
    histories: list[dict[str, list[dict[str, Any]]] | None],
    external_ids: list[int | None],
    versions: tuple[ModelVersion | None, str | None] | None = None,
) -> list[Score]:
    """Score many applications at once (a batch chunk): one feature build, one SHAP pass.

    Each gets the score `score_record` would give it; `latency_ms` is its share of the time.
    """
    model_version, challenger_version = versions or active_versions()
    if model_version is None:
        raise NoActiveModel("no model version is active: run train_model --activate")
    scores = score_records_with(
        model_version=model_version,
        application_rows=application_rows,
        histories=histories,
        external_ids=external_ids,
    )
    return [dataclasses.replace(s, challenger_version=challenger_version) for s in scores]


def active_versions() -> tuple[ModelVersion | None, str | None]:
    """The active version and the challenger's name, in one query (a request that validates
    and scores reads them once and passes them along)."""
    rows = ModelVersion.objects.filter(Q(status=ModelVersion.Status.ACTIVE) | Q(is_challenger=True))
    active, challenger = None, None
    for row in rows:
        if row.status == ModelVersion.Status.ACTIVE:
            active = row
        if row.is_challenger:
            challenger = row.version
    return active, challenger


def score_records_with(
    *,
    model_version: ModelVersion,
    application_rows: list[dict[str, Any]],
    histories: list[dict[str, list[dict[str, Any]]] | None],
    external_ids: list[int | None],
) -> list[Score]:
    """`score_records` with a given version (the challenger's shadow scoring)."""
    started = time.perf_counter()
    scorer = _scorer_for(model_version)
    store = history_store()
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
            history_rows=r.history_rows,
            age_neutralised=r.age_neutralised,
            measures=r.measures,
        )
        for r in results
    ]


def feature_values(
    *,
    model_version: ModelVersion,
    application_rows: list[dict[str, Any]],
    histories: list[dict[str, list[dict[str, Any]]] | None],
    external_ids: list[int | None],
    names: list[str],
) -> dict[str, list[float | None]]:
    """The values of features `names` for these applications, built by the same code that
    scored them (drift monitoring; None for a missing value)."""
    scorer = _scorer_for(model_version)
    store = history_store()
    frames = [
        _history_frames(history, external_id, store)
        for history, external_id in zip(histories, external_ids, strict=True)
    ]
    X = scorer.matrix_many(application_rows, frames)
    index = {name: i for i, name in enumerate(scorer.feature_names)}
    out: dict[str, list[float | None]] = {}
    for name in names:
        if name not in index or X is None:
            continue
        column = X[:, index[name]].astype(float)
        out[name] = [None if value != value else float(value) for value in column]
    return out


def _scorer_for(model_version: ModelVersion) -> Scorer:
    with _lock:
        scorer = _loaded.get(model_version.version)
        if scorer is None:
            scorer = verified_scorer(model_version)
            while len(_loaded) >= _MAX_LOADED:
                _loaded.pop(next(iter(_loaded)))
            _loaded[model_version.version] = scorer
            logger.info("loaded model version %s", model_version.version)
    return scorer


#: A made-up applicant scored once at warm start, so that every lazy first-call cost (the
#: feature build's expressions, the forest's buffers) is paid before the first real decision.
_WARM_ROW: dict[str, Any] = {
    "AMT_INCOME_TOTAL": 150000.0,
    "AMT_CREDIT": 500000.0,
    "AMT_ANNUITY": 25000.0,
    "DAYS_BIRTH": -14000,
}


def scorer_warm() -> str | None:
    """Load, verify and compile the active model in this process and score one made-up
    applicant with it, so the first real decision costs what the others do. Called when a web
    or worker process starts and when a version is activated; returns the version warmed, or
    None when there is nothing to warm (no active model, or no database yet: a process must
    start even then, and the first decision loads the model as before)."""
    started = time.perf_counter()
    try:
        model_version = active_model_version()
        if model_version is None:
            raise NoActiveModel("no model version is active")
        _scorer_for(model_version).score_many([_WARM_ROW], [None])
    except (NoActiveModel, DatabaseError, RegistryError) as error:
        logger.warning("warm start skipped: %s", error)
        return None
    logger.info(
        "warm start: model %s ready in %.0f ms",
        model_version.version,
        (time.perf_counter() - started) * 1000,
    )
    return model_version.version


def input_contract_errors(
    row: dict[str, Any], *, versions: tuple[ModelVersion | None, str | None] | None = None
) -> dict[str, str]:
    """Values outside the active model version's input domain (its bundle's contract), as
    field errors; none when no model is active (scoring will say so itself)."""
    return input_contract_checker(versions=versions)(row)


def input_contract_checker(
    *, versions: tuple[ModelVersion | None, str | None] | None = None
) -> Callable[[dict[str, Any]], dict[str, str]]:
    """`input_contract_errors` for many rows: the contract is looked up once (a CSV batch)."""
    model_version = (versions or active_versions())[0]
    if model_version is None:
        return lambda row: {}
    try:
        scorer = _scorer_for(model_version)
    except RegistryError:
        # An unloadable bundle fails scoring itself, with its own message (and FAILED rows);
        # validation has no contract to apply then.
        logger.warning("model version %s cannot be loaded; no input contract applied",
                       model_version.version)  # fmt: skip
        return lambda row: {}
    contract = scorer.bundle.reference.get("inputs", {})
    return partial(check_input_contract, contract=contract, version=model_version.version)


def history_store() -> HistoryStore | None:
    """This process's one handle on the stored history (the data cache), opened once per
    cache folder; a cache built after the process started is picked up on the next call."""
    path = Path(settings.CREDSCOPE_DATA_DIR) / "cache"
    with _lock:
        if _history["path"] != path or _history["store"] is None:
            _history["store"] = HistoryStore.open_if_present(path)
            _history["path"] = path
        return _history["store"]


def _keep_loaded(version: str, scorer: Scorer) -> None:
    with _lock:
        while len(_loaded) >= _MAX_LOADED and version not in _loaded:
            _loaded.pop(next(iter(_loaded)))
        _loaded[version] = scorer


def verified_scorer(model_version: ModelVersion) -> Scorer:
    """Load and verify the bundle of `model_version` (not kept: see `_scorer_for`)."""
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
