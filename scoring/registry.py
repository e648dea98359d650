"""The model registry: versions on disk and in the database, and the active scorer.

A worker or web process loads the active bundle once and keeps it until another version is
activated; every call checks which version is active with one indexed query.

Warm start everywhere: each process loads the active version when it starts
(:func:`scorer_warm`), and an activation is announced on Redis *before* it is committed:
every web and worker process runs a listener thread (:func:`activation_listener_start`) that
loads and compiles the announced version and says so, and the activating process waits
(``CREDSCOPE_ACTIVATION_WARM_TIMEOUT``) until each has, so that no process serves the new
version's first decision cold. The sync path gains no query: the listener is off it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from credscope_site.process_heap import heap_freeze
from credscope_site.roles import Perm
from scoring.ml.data.history_store import HistoryStore, frames_from_records
from scoring.ml.schema.contract import NO_CONTRACT, InputContract
from scoring.ml.schema.tables import HISTORY_TABLES
from scoring.ml.serving.bundle import BundleError, load_bundle
from scoring.ml.serving.explain import ExplainedRow
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
    #: The grouped explanation as arrays (`scoring.ml.serving.explain.ExplainedRow`).
    explained: ExplainedRow
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
    #: Scored alone: the applicant's history features, reused by its counteroffer search
    #: (`probabilities_for`) instead of a second look-up and build. Never stored.
    history_features: dict[str, float] | None = field(default=None, repr=False)

    @property
    def contributions(self) -> list[dict[str, Any]]:
        """Every item of the explanation (`ExplainedRow.items`)."""
        return self.explained.items()


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
    # Every other process loads it now, while the old version still decides.
    activation_announce(version=candidate.version, bundle_path=candidate.bundle_path)
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
#: The champion, a challenger, and a version announced for activation while both serve.
_MAX_LOADED = 3
#: One lock per version being loaded: a decision that needs a version another thread is
#: loading waits for that load (never a second one), and other versions' decisions go on.
_loading: dict[str, threading.Lock] = {}
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
    # Not the metrics document (training and fairness figures, ~100 kB of JSON that took
    # ~10 ms to decode on every request); a page that shows them reads them itself.
    rows = ModelVersion.objects.filter(
        Q(status=ModelVersion.Status.ACTIVE) | Q(is_challenger=True)
    ).defer("metrics")
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
            explained=r.explained,
            model_version=model_version,
            latency_ms=each_ms,
            history_rows=r.history_rows,
            age_neutralised=r.age_neutralised,
            measures=r.measures,
            history_features=r.history_features,
        )
        for r in results
    ]


def decision_contributions(decision: Any) -> list[dict[str, Any]]:
    """Every item of a decision's explanation, largest first: recomputed from its stored
    model row by the version that decided it (the same items, to the bit, as when it was
    decided), or the list a decision made before rows were kept stores whole."""
    if decision.feature_row is None:
        return list(decision.contributions)
    scorer = _scorer_for(decision.model_version)
    row = np.frombuffer(bytes(decision.feature_row), dtype=np.float32)
    return scorer.explain_stored(
        row, decision.application.application_row, decision.history_rows or {}
    ).items()


def probabilities_for(
    *,
    model_version: ModelVersion,
    application_rows: list[dict[str, Any]],
    history: dict[str, list[dict[str, Any]]] | None,
    external_id: int | None,
    history_features: dict[str, float] | None = None,
) -> list[float]:
    """The probability of default of variants of one applicant's row (counteroffer
    candidates), all with that applicant's history: one feature build, one prediction.
    `history_features` (`Score.history_features` of the applicant's own score, by the same
    version) stand for its history: nothing is looked up."""
    scorer = _scorer_for(model_version)
    if history_features is not None:
        frames = None
    else:
        frames = _history_frames(history, external_id, history_store())
    probabilities = scorer.probabilities_of_variants(
        application_rows, frames, history_features=history_features
    )
    return [float(p) for p in probabilities]


def scorer_reference(model_version: ModelVersion) -> dict[str, Any]:
    """The bundle's reference (input contract, training distributions) of a version."""
    return _scorer_for(model_version).bundle.reference


def scorer_contract(model_version: ModelVersion) -> InputContract:
    """A version's input contract, as its loaded scorer holds it (built once per load)."""
    return _scorer_for(model_version).input_contract


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
    scorer = _loaded.get(model_version.version)
    if scorer is not None:
        return scorer
    return _load_once(model_version.version, lambda: verified_scorer(model_version))


def _load_once(version: str, load: Any) -> Scorer:
    """The loaded scorer of ``version``, loading it with ``load()`` unless another thread
    is doing so (then waiting for that load)."""
    with _lock:
        gate = _loading.setdefault(version, threading.Lock())
    with gate:
        scorer = _loaded.get(version)
        if scorer is None:
            scorer = load()
            _keep_loaded(version, scorer)
            logger.info("loaded model version %s", version)
    return scorer


#: A made-up applicant scored once at warm start, so that every lazy first-call cost (the
#: feature build's expressions, the forest's buffers) is paid before the first real decision.
_WARM_ROW: dict[str, Any] = {
    "AMT_INCOME_TOTAL": 150000.0,
    "AMT_CREDIT": 500000.0,
    "AMT_ANNUITY": 25000.0,
    "DAYS_BIRTH": -14000,
}
#: ... and once with a row in every history table, which compiles the history features.
_WARM_HISTORY: dict[str, list[dict[str, Any]]] = {
    "bureau": [{"SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active", "DAYS_CREDIT": -400}],
    "bureau_balance": [{"SK_ID_BUREAU": 1, "MONTHS_BALANCE": -1, "STATUS": "0"}],
    "previous_application": [{"SK_ID_PREV": 1, "NAME_CONTRACT_STATUS": "Approved"}],
    "POS_CASH_balance": [{"SK_ID_PREV": 1, "MONTHS_BALANCE": -1, "SK_DPD": 0}],
    "installments_payments": [{"SK_ID_PREV": 1, "DAYS_INSTALMENT": -30}],
    "credit_card_balance": [{"SK_ID_PREV": 2, "MONTHS_BALANCE": -1, "AMT_BALANCE": 0.0}],
}


def _warm_scorer(scorer: Scorer) -> None:
    """Pay every first-call cost (compiling the feature expressions, the forest's buffers)."""
    scorer.score_many([_WARM_ROW], [None])
    scorer.score_many([_WARM_ROW], [_WARM_HISTORY])


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
        _warm_scorer(_scorer_for(model_version))
    except (NoActiveModel, DatabaseError, RegistryError) as error:
        logger.warning("warm start skipped: %s", error)
        return None
    logger.info(
        "warm start: model %s ready in %.0f ms",
        model_version.version,
        (time.perf_counter() - started) * 1000,
    )
    return model_version.version


def input_contract(
    versions: tuple[ModelVersion | None, str | None] | None = None,
) -> InputContract:
    """The active model version's input contract (what it requires, the domain it was
    trained on), read from the scorer this process already holds: no query beyond the one
    that found the version. With no active model, or one whose bundle cannot be loaded, only
    the columns every application needs are required (scoring then says what is wrong)."""
    model_version = (versions or active_versions())[0]
    if model_version is None:
        return NO_CONTRACT
    try:
        scorer = _scorer_for(model_version)
    except RegistryError:
        # An unloadable bundle fails scoring itself, with its own message (and FAILED rows);
        # validation has no contract to apply then.
        logger.warning("model version %s cannot be loaded; no input contract applied",
                       model_version.version)  # fmt: skip
        return NO_CONTRACT
    return scorer.input_contract


def input_contract_errors(
    row: dict[str, Any],
    *,
    versions: tuple[ModelVersion | None, str | None] | None = None,
    known: dict[str, str] | None = None,
) -> dict[str, str]:
    """What the active version's contract says against a row the shared rules checked
    (their errors in `known`): each missing required input, and values outside its domain."""
    return input_contract(versions).errors(row, known=known or {})


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
        return store.history_columns_for(external_id)
    return None  # no history: every table empty (cheaper than building empty frames)


# --- activation announced to every process ----------------------------------------------------

#: This process's name in announcements: its own listener need not load what it announced.
_PROCESS = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
_listener: dict[str, Any] = {"pid": None, "thread": None, "ready": threading.Event()}


def _redis(**options: Any) -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, **options)


def _channel(client: redis.Redis) -> str:
    # Pub/sub ignores Redis database numbers: by default the number keeps deployments (and
    # test runs) that share one Redis on separate channels; a setting can name another.
    if settings.CREDSCOPE_ACTIVATION_CHANNEL:
        return settings.CREDSCOPE_ACTIVATION_CHANNEL
    return f"credscope:model-activation:{client.connection_pool.connection_kwargs.get('db', 0)}"


def activation_announce(*, version: str, bundle_path: str) -> tuple[int, int]:
    """Ask every listening web and worker process to load and compile ``version`` now, and
    wait until each says it has (at most ``CREDSCOPE_ACTIVATION_WARM_TIMEOUT`` seconds).

    Returns (processes warm, processes that heard it), this one not counted. Without Redis
    (one process: the demo and most tests) there is nobody to tell. A process that missed
    the announcement, or a Redis outage, costs only speed: such a process loads the version
    on first use, exactly as before.
    """
    if not settings.REDIS_URL:
        return 0, 0
    reply = f"credscope:model-warm:{uuid.uuid4().hex}"
    message = {"version": version, "bundle_path": bundle_path, "reply": reply, "from": _PROCESS}
    timeout = float(settings.CREDSCOPE_ACTIVATION_WARM_TIMEOUT)
    warm = heard = 0
    try:
        client = _redis(socket_timeout=timeout + 5)
        published = int(client.publish(_channel(client), json.dumps(message)))
        # This process's own listener answers at once, and is not counted.
        heard = max(published - (1 if _listener_running() else 0), 0)
        deadline = time.monotonic() + timeout
        answered = 0
        while answered < published:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            answer = client.blpop([reply], timeout=remaining)
            if answer is None:
                break
            answered += 1
            status = json.loads(answer[1])
            if status["from"] == _PROCESS:
                continue
            if status["ok"]:
                warm += 1
            else:
                logger.warning("process %s could not load %s: %s", status["from"], version,
                               status["error"])  # fmt: skip
        client.delete(reply)
    except redis.RedisError as error:
        logger.warning("activation of %s not announced (%s): processes load it on first use",
                       version, error)  # fmt: skip
        return warm, heard
    level = logging.INFO if warm == heard else logging.WARNING
    logger.log(level, "activation of %s: %d of %d other processes warm", version, warm, heard)
    return warm, heard


def activation_listener_start() -> bool:
    """Start this process's listener for announced activations (once per process; again in
    a forked child). False without Redis, where there is nothing to listen to."""
    if not settings.REDIS_URL:
        return False
    with _lock:
        if _listener_running():
            return True
        ready = threading.Event()
        thread = threading.Thread(
            target=_listen, args=(ready,), name="credscope-activation-listener", daemon=True
        )
        _listener.update(pid=os.getpid(), thread=thread, ready=ready)
        thread.start()
    ready.wait(5)
    return True


def _listener_running() -> bool:
    thread = _listener["thread"]
    return _listener["pid"] == os.getpid() and thread is not None and thread.is_alive()


def _listen(ready: threading.Event) -> None:
    """Subscribe, and warm each announced version; reconnect after a Redis outage."""
    while True:
        try:
            client = _redis(socket_timeout=None, health_check_interval=30)
            subscription = client.pubsub(ignore_subscribe_messages=True)
            subscription.subscribe(_channel(client))
            ready.set()
            for message in subscription.listen():
                reply, answer = _warm_announced(json.loads(message["data"]))
                client.rpush(reply, answer)  # first: the activation waits for the answers
                if json.loads(answer)["ok"]:
                    heap_freeze()  # the new version's objects too (see process_heap)
        except (redis.RedisError, OSError, ValueError, KeyError) as error:
            logger.warning("activation listener: %s; listening again in 5 s", error)
            time.sleep(5)


def _warm_announced(message: dict[str, Any]) -> tuple[str, str]:
    """Load and compile the announced version in this process (unless this process made
    the announcement: it already holds the scorer it verified); the answer to push."""
    version, answer = message["version"], {"from": _PROCESS, "ok": True, "error": ""}
    if message["from"] != _PROCESS:
        try:
            warm_version(version=version, bundle_path=message["bundle_path"])
        except (BundleError, FileNotFoundError, OSError) as error:
            answer.update(ok=False, error=str(error))
    return message["reply"], json.dumps(answer)


def warm_version(*, version: str, bundle_path: str) -> Scorer:
    """Load, verify and compile ``version`` in this process and score one made-up applicant
    with it (no database query: the announcement carries the bundle's path)."""
    started = time.perf_counter()
    scorer = _load_once(version, lambda: Scorer.from_bundle(Path(bundle_path)))
    _warm_scorer(scorer)
    logger.info("warm start: model %s ready in %.0f ms (announced activation)", version,
                (time.perf_counter() - started) * 1000)  # fmt: skip
    return scorer
