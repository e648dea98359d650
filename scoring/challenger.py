"""Champion and challenger: the challenger's shadow scores of live decisions.

After the champion's decisions are saved, `challenger_scoring_schedule` queues them (after
commit, by task name, on the challenger's own low-priority queue) for the challenger. The
task calls `challenger_decisions_score`, which scores them with the challenger's bundle and
stores a `ChallengerScore` beside each decision: the PD, the outcome under the same policy
that made the champion's decision, and the top reasons. Nothing here touches the decision.
"""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring import queue, registry
from scoring.models import ChallengerScore, Decision, ModelVersion
from scoring.policy import policy_apply
from scoring.reasons import reasons_for_explained

logger = logging.getLogger(__name__)


#: `challenger_scoring_schedule` looks the challenger up itself.
LOOK_UP = "look up"


def challenger_scoring_schedule(*, decision_ids: list[int], version: str | None = LOOK_UP) -> None:
    """If a challenger is set, queue its shadow scoring of these decisions once the
    transaction that saves them commits. `version` is the challenger the scores were made
    beside (None: there was none), or `LOOK_UP` for one indexed query here."""
    if not decision_ids:
        return
    challenger = (
        ModelVersion.objects.filter(is_challenger=True).values_list("version", flat=True).first()
        if version == LOOK_UP
        else version
    )
    if challenger is None:
        return
    size = settings.CREDSCOPE_CHALLENGER_CHUNK
    for start in range(0, len(decision_ids), size):
        chunk = list(decision_ids[start : start + size])
        transaction.on_commit(
            partial(queue.challenger_scoring_enqueue, decision_ids=chunk, version=challenger)
        )


def challenger_decisions_score(*, decision_ids: list[int], version: str) -> int:
    """Score the decisions with challenger `version`; returns how many scores were stored.

    While `version` is the challenger, the other decisions made since it became one and not
    yet scored are taken along (up to a chunk): tasks are sent with a short delay, so the
    first of a burst scores the burst in one feature build and one SHAP pass, and those after
    it find nothing left. Batch scoring costs a fraction of one-by-one scoring per row, which
    is what keeps the challenger's CPU away from the champion.

    Safe to run twice (one score per decision and version). A version that is no longer the
    challenger still finishes what was queued while it was: those decisions were live then.
    """
    model_version = ModelVersion.objects.filter(version=version).first()
    if model_version is None:
        logger.warning("challenger %s no longer exists; %d decisions not scored",
                       version, len(decision_ids))  # fmt: skip
        return 0
    wanted = _pending(model_version, decision_ids)
    decisions = list(
        Decision.objects.filter(pk__in=wanted)
        .select_related("application__applicant", "policy")
        .order_by("pk")
    )
    if not decisions:
        return 0
    applications = [d.application for d in decisions]
    scores = registry.score_records_with(
        model_version=model_version,
        application_rows=[a.application_row for a in applications],
        histories=[a.history or None for a in applications],
        external_ids=[a.applicant.external_id for a in applications],
    )
    rows = []
    for decision, score in zip(decisions, scores, strict=True):
        result = policy_apply(score.probability_of_default, decision.policy)
        rows.append(
            ChallengerScore(
                decision=decision,
                model_version=model_version,
                probability_of_default=score.probability_of_default,
                risk_band=result.risk_band,
                outcome=result.outcome,
                reasons=reasons_for_explained(
                    score.explained,
                    history_rows=score.history_rows,
                    measures=score.measures,
                ),
                scoring_latency_ms=score.latency_ms,
            )
        )
    created = ChallengerScore.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def _pending(model_version: ModelVersion, decision_ids: list[int]) -> list[int]:
    """The given decisions not yet scored by this version, then others made since it became
    the challenger, newest first, up to a chunk."""
    scored = ChallengerScore.objects.filter(model_version=model_version)
    wanted = list(
        Decision.objects.filter(pk__in=decision_ids)
        .exclude(pk__in=scored.filter(decision_id__in=decision_ids).values("decision_id"))
        .values_list("pk", flat=True)
    )
    room = settings.CREDSCOPE_CHALLENGER_CHUNK - len(wanted)
    if model_version.is_challenger and model_version.challenger_since and room > 0:
        wanted += list(
            Decision.objects.filter(decided_at__gte=model_version.challenger_since)
            .exclude(pk__in=decision_ids)
            .exclude(challenger_scores__model_version=model_version)
            .order_by("-pk")
            .values_list("pk", flat=True)[:room]
        )
    return wanted


# --- which version challenges -----------------------------------------------------------


def challenger_model_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_challenger=True).first()


def model_version_challenger_set(*, version: str, actor: AbstractBaseUser | None) -> ModelVersion:
    """Make `version` the challenger: from now on every live decision is also scored by it,
    in the background. Replaces the previous challenger; the active version cannot be one.
    The bundle is verified first, so a broken bundle never reaches the workers."""
    if actor is not None and not actor.has_perm(Perm.ACTIVATE_MODEL):
        raise PermissionDenied("only model admins may set a challenger")
    candidate = ModelVersion.objects.filter(version=version).first()
    if candidate is None:
        raise registry.RegistryError(f"no model version {version!r} (see list_models)")
    if candidate.status == ModelVersion.Status.ACTIVE:
        raise registry.RegistryError(
            f"model version {version} is active: it cannot challenge itself"
        )
    registry.verified_scorer(candidate)
    with transaction.atomic():
        previous = list(ModelVersion.objects.select_for_update().filter(is_challenger=True))
        if any(model.pk == candidate.pk for model in previous):
            return candidate
        ModelVersion.objects.filter(pk__in=[m.pk for m in previous]).update(
            is_challenger=False, challenger_since=None
        )
        candidate.is_challenger = True
        candidate.challenger_since = timezone.now()
        candidate.save(update_fields=["is_challenger", "challenger_since"])
        trail.record(
            action=AuditAction.MODEL_CHALLENGER_SET,
            actor=actor,
            target=candidate,
            payload={
                "version": candidate.version,
                "before": {"challenger": [m.version for m in previous]},
                "after": {"challenger": candidate.version},
            },
        )
    return candidate


def model_version_challenger_clear(*, version: str, actor: AbstractBaseUser | None) -> ModelVersion:
    """Stop `version` challenging; the scores it made stay for comparison."""
    if actor is not None and not actor.has_perm(Perm.ACTIVATE_MODEL):
        raise PermissionDenied("only model admins may clear a challenger")
    with transaction.atomic():
        model = ModelVersion.objects.select_for_update().filter(version=version).first()
        if model is None:
            raise registry.RegistryError(f"no model version {version!r} (see list_models)")
        if not model.is_challenger:
            raise registry.RegistryError(f"model version {version} is not the challenger")
        model.is_challenger = False
        model.challenger_since = None
        model.save(update_fields=["is_challenger", "challenger_since"])
        trail.record(
            action=AuditAction.MODEL_CHALLENGER_CLEARED,
            actor=actor,
            target=model,
            payload={
                "version": model.version,
                "before": {"challenger": model.version},
                "after": {"challenger": None},
            },
        )
    return model
