"""Writes for applicants and their loan applications.

`application_submit` is how one application enters CredScope, whatever the door (web form,
REST API); CSV batches take the same rules in bulk (`batch_intake`). It validates with the
rules every door shares (`scoring.ml.schema.records`), saves the applicant, the application
and its audit event in one transaction, and hands the application to the scoring queue once
that transaction commits.

Broker outages. The queue is told only after the commit, so a broker that is down can never
leave half an application behind: the application, its applicant and its audit event are all
committed, status SUBMITTED, no claim, no decision. `application_submit` then raises
`queue.ApplicationQueueUnavailable` (the API answers 503 with the application's id, and the same
Idempotency-Key replays it). Nothing else is needed to finish the job: the sweeper
(`scoring.tasks.requeue_stuck_applications`, run by celery beat every minute) re-enqueues every
application left SUBMITTED for longer than CREDSCOPE_SWEEP_SUBMITTED_AFTER seconds, so it is
scored as soon as the broker is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import partial
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from applicants.columns import applicant_fields, application_fields, submitted_payload
from applicants.models import Applicant, LoanApplication
from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring import decide, queue, registry
from scoring.ml.schema.records import clean_application, clean_history
from scoring.models import BatchJob

logger = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_LENGTH = 128
MAX_FULL_NAME_LENGTH = 200
# The amounts are stored as NUMERIC(14, 2): anything outside this range cannot be stored.
MIN_AMOUNT = 0.01
MAX_AMOUNT = 999_999_999_999.99
_AMOUNT_COLUMNS = ("AMT_INCOME_TOTAL", "AMT_CREDIT", "AMT_ANNUITY", "AMT_GOODS_PRICE")


class ApplicationInvalid(Exception):
    """The application cannot be accepted; `errors` maps each field to its problem."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class IdempotencyConflict(Exception):
    """The idempotency key was already used by this client for a different request."""

    def __init__(self, application: LoanApplication) -> None:
        super().__init__(
            f"idempotency key already used for application {application.pk} with another body"
        )
        self.application = application


def application_submit(
    *,
    actor: AbstractBaseUser,
    channel: str,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None = None,
    full_name: str = "",
    external_id: int | None = None,
    idempotency_key: str | None = None,
    request_fingerprint: str = "",
    batch: BatchJob | None = None,
    batch_row: int | None = None,
    enqueue: bool = True,
    score_now: bool = False,
    counteroffer_of: LoanApplication | None = None,
) -> tuple[LoanApplication, bool]:
    """Save a new application and queue it for scoring; return it and whether it is new.

    With an `idempotency_key`, a repeat of the same request (same fingerprint) by the same
    client returns the first application and `False`; another request under the same key
    raises `IdempotencyConflict`. Two identical requests racing are settled by the unique
    (client, key) constraint: the loser returns the winner's application.

    Raises `ApplicationInvalid` (field -> message), `PermissionDenied` for a user who may not
    submit, `registry.NoActiveModel` when nothing could score it (nothing is saved), and
    `queue.ApplicationQueueUnavailable` when the application was saved but the broker refused
    it (see the module docstring). `enqueue=False` leaves queueing to the caller (scoring within the
    request, or a batch scored in bulk). `counteroffer_of` links the new application to the
    one whose counteroffer it accepts (`applicants.services.counteroffers`).
    """
    if not actor.has_perm(Perm.SUBMIT_APPLICATION):
        raise PermissionDenied("this role may not submit loan applications")
    # The active version (and challenger) read once, for validation and for scoring.
    versions = registry.active_versions()
    row, clean_inline_history, extras = _validated(
        versions=versions,
        channel=channel,
        application_row=application_row,
        history=history,
        full_name=full_name,
        external_id=external_id,
        idempotency_key=idempotency_key,
    )
    fingerprint = request_fingerprint or application_fingerprint(
        application_row=row,
        history=clean_inline_history,
        full_name=extras["full_name"],
        external_id=external_id,
    )
    if idempotency_key:
        existing = _application_for_key(actor, idempotency_key)
        if existing is not None:
            return _replayed(existing, fingerprint), False
    score = _score_first(row, clean_inline_history, external_id, versions) if score_now else None
    policy, counteroffer = None, None
    if score is not None:
        policy, counteroffer = decide.counteroffer_for_request(
            application_row=row,
            history=clean_inline_history,
            external_id=external_id,
            score=score,
        )
    if score_now:
        enqueue = score is None
    elif versions[0] is None:
        raise registry.NoActiveModel("no model version is active: nothing could score it")

    queue_errors: list[Exception] = []
    try:
        with transaction.atomic():
            application, submitted = _create(
                actor=actor,
                channel=channel,
                row=row,
                history=clean_inline_history,
                full_name=extras["full_name"],
                external_id=external_id,
                idempotency_key=idempotency_key or None,
                fingerprint=fingerprint,
                batch=batch,
                batch_row=batch_row,
                decided=score is not None,
                counteroffer_of=counteroffer_of,
            )
            events = [submitted]
            if counteroffer_of is not None:
                events.append(_counteroffer_accepted_event(actor, counteroffer_of, application))
            if score is not None:
                # Saved DECIDED with its decision and both audit events under one lock: no
                # task can see the application before this commits, so no claim is needed.
                events.append(
                    decide.application_decide_scored(
                        application=application,
                        score=score,
                        policy=policy,
                        counteroffer=counteroffer,
                    )
                )
            trail.record_many(events)
            if enqueue:
                transaction.on_commit(partial(_enqueue_after_commit, application.pk, queue_errors))
    except IntegrityError:
        # Lost a race with an identical request: the unique key let only one in.
        existing = _application_for_key(actor, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _replayed(existing, fingerprint), False
    if queue_errors:
        raise queue_errors[0]
    return application, True


def _score_first(
    row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]],
    external_id: int | None,
    versions: tuple[Any, str | None],
) -> registry.Score | None:
    """Scored before anything is written (the model is slow next to a transaction); an
    application that cannot be scored here (None) is saved and queued like any other.
    Raises `registry.NoActiveModel`: with no model nothing is saved."""
    return decide.score_for_request(
        application_row=row, history=history, external_id=external_id, versions=versions
    )


def application_submit_and_score(**kwargs: Any) -> tuple[LoanApplication, bool]:
    """`application_submit`, scored within the caller's request instead of the queue.

    Takes the same arguments. The application is scored first, then saved DECIDED with its
    decision in one transaction (about ten queries in all). When scoring here fails for any
    reason but a missing model (the model is being swapped, a bad bundle), the application is
    saved and goes to the queue like any other, where retries and the FAILED state are
    handled; the caller gets it back undecided. A replayed idempotent request is returned as
    it stands.
    """
    return application_submit(**kwargs, score_now=True)


def application_fingerprint(
    *,
    application_row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]] | None,
    full_name: str,
    external_id: int | None,
) -> str:
    """sha256 of the request's meaning (key order and number spelling do not matter)."""
    canonical = json.dumps(
        {
            "application": application_row,
            "history": history or {},
            "full_name": full_name,
            "external_id": external_id,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- internals ---------------------------------------------------------------------------------


def _validated(
    *,
    versions: tuple[Any, str | None],
    channel: str,
    application_row: dict[str, Any],
    history: Any,
    full_name: Any,
    external_id: Any,
    idempotency_key: Any,
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], dict[str, Any]]:
    errors: dict[str, str] = {}
    if channel not in LoanApplication.Channel.values:
        errors["channel"] = f"must be one of {', '.join(LoanApplication.Channel.values)}"
    if not isinstance(application_row, dict):
        raise ApplicationInvalid({"application": "must be an object of Kaggle application columns"})
    row, row_errors = clean_application(application_row)
    errors.update(row_errors)
    # The active version's contract: each required input it lacks (a known applicant's id
    # brings history, never these), then its domain (its training range, widened).
    errors.update(registry.input_contract_errors(row, versions=versions, known=row_errors))
    errors.update(storage_errors(row, row_errors))
    clean_inline_history, history_errors = clean_history(history)
    errors.update(history_errors)
    full_name = full_name or ""
    if not isinstance(full_name, str):
        errors["full_name"] = "must be text"
    elif len(full_name) > MAX_FULL_NAME_LENGTH:
        errors["full_name"] = f"at most {MAX_FULL_NAME_LENGTH} characters"
    if external_id is not None and (
        isinstance(external_id, bool) or not isinstance(external_id, int) or external_id < 0
    ):
        errors["external_id"] = "must be a whole number >= 0 (a known SK_ID_CURR)"
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str)
        or not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH
    ):
        errors["idempotency_key"] = f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters"
    if errors:
        raise ApplicationInvalid(errors)
    return row, clean_inline_history, {"full_name": full_name.strip()}


def storage_errors(row: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Problems with a validated row that the database could not store (amounts that round
    to zero or exceed NUMERIC(14, 2)); fields already in `errors` are skipped."""
    found = {}
    for name in _AMOUNT_COLUMNS:
        value = row.get(name)
        if value is not None and name not in errors and not MIN_AMOUNT <= value <= MAX_AMOUNT:
            found[name] = f"must be between {MIN_AMOUNT} and {MAX_AMOUNT:,.2f}"
    return found


def _create(
    *,
    actor: AbstractBaseUser,
    channel: str,
    row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]],
    full_name: str,
    external_id: int | None,
    idempotency_key: str | None,
    fingerprint: str,
    batch: BatchJob | None,
    batch_row: int | None,
    decided: bool = False,
    counteroffer_of: LoanApplication | None = None,
) -> tuple[LoanApplication, dict[str, Any]]:
    """The saved application and its SUBMITTED audit event (for the caller to record with
    any other event of the same transaction, under one lock)."""
    applicant = Applicant.objects.create(**applicant_fields(row, full_name, external_id, actor))
    fields = application_fields(row, history, actor, channel)
    if decided:  # scored before saving: its decision is saved in the same transaction
        fields.update(status=LoanApplication.Status.DECIDED, attempts=1)
    application = LoanApplication.objects.create(
        applicant=applicant,
        **fields,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        batch=batch,
        batch_row=batch_row,
        counteroffer_of=counteroffer_of,
    )
    # A new application has no accepted counteroffer: known without asking the database.
    LoanApplication.accepted_counteroffer.related.set_cached_value(application, None)
    payload = submitted_payload(application)
    payload["after"] = {"status": LoanApplication.Status.SUBMITTED}
    event = {"action": AuditAction.APPLICATION_SUBMITTED, "actor": actor, "target": application,
             "payload": payload}  # fmt: skip
    return application, event


def _counteroffer_accepted_event(
    actor: AbstractBaseUser, original: LoanApplication, accepted: LoanApplication
) -> dict[str, Any]:
    """The audit event, on the original application, of its counteroffer's acceptance."""
    return {
        "action": AuditAction.COUNTEROFFER_ACCEPTED,
        "actor": actor,
        "target": original,
        "payload": {
            "accepted_application_id": accepted.pk,
            "amt_credit": accepted.amt_credit,
            "amt_annuity": accepted.amt_annuity,
            "amt_goods_price": accepted.amt_goods_price,
            "before": {"accepted_counteroffer": None},
            "after": {"accepted_counteroffer": accepted.pk},
        },
    }


def _application_for_key(actor: AbstractBaseUser, key: str) -> LoanApplication | None:
    return (
        LoanApplication.objects.select_related("applicant")
        .filter(created_by=actor, idempotency_key=key)
        .first()
    )


def _replayed(existing: LoanApplication, fingerprint: str) -> LoanApplication:
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict(existing)
    return existing


def _enqueue_after_commit(application_id: int, errors: list[Exception]) -> None:
    try:
        queue.application_scoring_enqueue(application_id=application_id)
    except queue.ApplicationQueueUnavailable as error:
        # Saved and committed; the sweeper picks it up when the broker is back.
        errors.append(error)
