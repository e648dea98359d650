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
from django.db import transaction

from scoring import queue, registry
from scoring.models import ChallengerScore, Decision, ModelVersion
from scoring.policy import policy_apply
from scoring.reasons import reasons_for

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
                reasons=reasons_for(
                    score.contributions,
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
