"""The only way into the audit trail: `record()` appends, `verify()` checks the whole chain.

Each event's hash is an HMAC-SHA256, keyed by AUDIT_CHAIN_KEY (never stored in the database),
of the previous hash and the event's canonical content; the key's id is recorded on the event.
Events from before the chain was keyed keep their plain sha256 and are anchored by the first
keyed event after them, normally the `audit.rekeyed` event (docs/AUDIT.md). Checkpoints of
the head, written outside the database (`audits.checkpoints`), catch a removed tail.

Appends are serialised so concurrent writers never fork the chain: on PostgreSQL with a
transaction-scoped advisory lock, on SQLite by its IMMEDIATE transactions (see settings). Call
`record()` inside the transaction of the change it records, so both commit or neither does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from audits import checkpoints, keys
from audits.actions import AuditAction
from audits.models import AuditEvent
from credscope_site.bulk import bulk_insert
from credscope_site.middleware import current_request_id

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR_NAME = "system"
# Any constant works; it only has to be the same in every process that appends.
_POSTGRES_APPEND_LOCK_KEY = 0x43524544_41554454  # "CRED" "AUDT"

logger = logging.getLogger(__name__)


def record(
    *,
    action: AuditAction | str,
    actor: AbstractBaseUser | None = None,
    actor_name: str | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    payload: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to the chain and return it.

    `target` (a saved model instance) fills `target_type` and `target_id`. `payload` must be
    JSON-serialisable (dates and decimals become strings; NaN is refused). `request_id`
    defaults to the id of the request being served.
    """
    return _append(
        [
            _content(
                action=action,
                actor=actor,
                actor_name=actor_name,
                target=target,
                target_type=target_type,
                target_id=target_id,
                payload=payload,
                request_id=request_id,
            )
        ]
    )[0]


def record_many(events: Sequence[Mapping[str, Any]]) -> list[AuditEvent]:
    """Append several events, in order, under one lock and in one insert (batch scoring).

    Each item holds `record()`'s keyword arguments; the chain is the same as if each had
    been recorded on its own.
    """
    return _append([_content(**event) for event in events])


def _content(
    *,
    action: AuditAction | str,
    actor: AbstractBaseUser | None = None,
    actor_name: str | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    payload: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    action = AuditAction(action)  # an unknown action is a programming error, raise now
    if target is not None:
        if target.pk is None:
            raise ValueError("record() needs a saved target: the event must point at its row")
        target_type = target._meta.label_lower
        target_id = target.pk
    if actor is not None and not actor.is_authenticated:
        actor = None
    return {
        "occurred_at": timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_name": actor_name or (actor.get_username() if actor else SYSTEM_ACTOR_NAME),
        "action": action.value,
        "target_type": target_type,
        "target_id": str(target_id),
        "payload": _normalised(payload or {}),
        "request_id": request_id or current_request_id() or "",
    }


def chain_rekey(*, actor: AbstractBaseUser | None = None, model: type = AuditEvent) -> Any:
    """Append an `audit.rekeyed` event when the head is not signed by the current key.

    It records the head it seals (sequence, hash, key id), so the unkeyed events before it (or
    those under a retired key) are anchored by an HMAC only the current key can produce.
    Returns None when the head is already under the current key. `model` lets a data
    migration pass its historical model.
    """
    with transaction.atomic():
        _lock_chain_for_append()
        head = model.objects.order_by("-sequence").values("sequence", "hash", "key_id").first()
        if head is None or head["key_id"] == keys.signing_key_id():
            return None
        payload = {
            "from_key_id": head["key_id"] or "unkeyed",
            "to_key_id": keys.signing_key_id(),
            "sealed_sequence": head["sequence"],
            "sealed_hash": head["hash"],
        }
        content = _content(action=AuditAction.AUDIT_REKEYED, actor=actor, payload=payload)
        return _append([content], model=model)[0]


def _append(contents: list[dict[str, Any]], model: type = AuditEvent) -> list[Any]:
    if not contents:
        return []
    key_id = keys.signing_key_id()
    # No savepoint: an audit append that fails must fail the change it records, so there is
    # nothing to roll back to inside the caller's transaction (and two statements fewer).
    with transaction.atomic(savepoint=False):
        _lock_chain_for_append()
        last = model.objects.order_by("-sequence").values("sequence", "hash").first()
        sequence = last["sequence"] if last else 0
        prev_hash = last["hash"] if last else GENESIS_HASH
        events = []
        for content in contents:
            sequence += 1
            digest = event_hash(key_id=key_id, sequence=sequence, prev_hash=prev_hash, **content)
            events.append(
                model(sequence=sequence, prev_hash=prev_hash, hash=digest, key_id=key_id, **content)
            )
            prev_hash = digest
        if len(events) == 1:
            events[0].save(force_insert=True)
        else:
            events = bulk_insert(model, events)
        _checkpoint_after_commit(first=events[0].sequence, last=events[-1])
        return events


def _checkpoint_after_commit(*, first: int, last: Any) -> None:
    """Every CREDSCOPE_AUDIT_CHECKPOINT_EVERY events, write the head outside the database.

    After commit only: a checkpoint must never name an event that was rolled back. A failing
    sink is logged and does not fail the change (the next checkpoint, at the latest beat's in
    five minutes, covers it).
    """
    every = settings.CREDSCOPE_AUDIT_CHECKPOINT_EVERY
    if every <= 0 or (first - 1) // every == last.sequence // every:
        return
    head = checkpoints.Head(sequence=last.sequence, hash=last.hash, key_id=last.key_id)
    transaction.on_commit(lambda: checkpoints.checkpoint_write(head=head), robust=True)


def event_hash(
    *,
    key_id: str,
    sequence: int,
    prev_hash: str,
    occurred_at: datetime,
    actor_id: int | None,
    actor_name: str,
    action: str,
    target_type: str,
    target_id: str,
    payload: Mapping[str, Any],
    request_id: str,
) -> str:
    """HMAC-SHA256 under key `key_id` of the previous hash and the canonical JSON of the
    event's content (which names the key); plain sha256 for a legacy, unkeyed event."""
    content = {
        "sequence": sequence,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "payload": payload,
        "request_id": request_id,
    }
    if key_id != keys.UNKEYED:
        content["key_id"] = key_id  # legacy events were hashed without it; keep them valid
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return keys.sign(key_id, prev_hash + canonical)


@dataclass(frozen=True)
class ChainBreak:
    """The first event whose stored hash or link does not hold."""

    event_id: int
    sequence: int
    reason: str

    def __str__(self) -> str:
        return f"event id={self.event_id} (sequence {self.sequence}): {self.reason}"


@dataclass(frozen=True)
class ChainVerification:
    """What `verify()` found: the first break in the chain, or else the first checkpoint the
    table no longer matches (a removed tail, a rewritten chain)."""

    checked: int
    head_sequence: int
    head_hash: str
    first_break: ChainBreak | None
    checkpoint_problem: str | None = None
    checkpoints_checked: int = 0
    #: The newest checkpoint (by number) the table was found to match, with its sink.
    checkpoint_reached: str | None = None
    #: True when the newest event is not under the current key (run `audit_rekey`).
    head_unkeyed: bool = False

    @property
    def intact(self) -> bool:
        return self.first_break is None and self.checkpoint_problem is None

    @property
    def verdict(self) -> str:
        """One line a person can act on."""
        if self.first_break is not None:
            return f"BROKEN at {self.first_break}"
        if self.checkpoint_problem is not None:
            return f"BROKEN: {self.checkpoint_problem}"
        reached = f", checkpoint {self.checkpoint_reached}" if self.checkpoint_reached else ""
        return f"intact: {self.checked} event(s){reached}, head {self.head_hash[:16]}"


def verify(chunk_size: int = 2000) -> ChainVerification:
    """Recompute every hash in order under the configured keys, then hold the table against
    every checkpoint; report the first event edited, removed or moved, or the missing tail."""
    recorded = checkpoints.checkpoint_read_all()
    by_sequence: dict[int, list[checkpoints.Checkpoint]] = {}
    for checkpoint in recorded.checkpoints:
        by_sequence.setdefault(checkpoint.sequence, []).append(checkpoint)
    expected_sequence, expected_prev, checked, keyed_seen = 1, GENESIS_HASH, 0, False
    head_key_id = keys.UNKEYED
    for event in _events_in_chain_order(chunk_size):
        checked += 1
        reason = _link_problem(event, expected_sequence, expected_prev, keyed_seen)
        if reason:
            return _broken(event, checked, expected_prev, reason)
        for checkpoint in by_sequence.get(event.sequence, ()):
            if checkpoint.hash != event.hash:
                return _broken(
                    event,
                    checked,
                    expected_prev,
                    f"its hash differs from the one {checkpoint.label} recorded "
                    "(the chain was rewritten up to here)",
                )
        keyed_seen = keyed_seen or event.key_id != keys.UNKEYED
        head_key_id = event.key_id
        expected_sequence, expected_prev = event.sequence + 1, event.hash
    head_sequence = expected_sequence - 1
    return ChainVerification(
        checked=checked,
        head_sequence=head_sequence,
        head_hash=expected_prev,
        first_break=None,
        checkpoint_problem=recorded.problem or _missing_tail(recorded.checkpoints, head_sequence),
        checkpoints_checked=len(recorded.checkpoints),
        checkpoint_reached=_reached(recorded.checkpoints, head_sequence),
        head_unkeyed=checked > 0 and head_key_id != keys.signing_key_id(),
    )


def _link_problem(
    event: AuditEvent, expected_sequence: int, expected_prev: str, keyed_seen: bool
) -> str:
    if event.sequence != expected_sequence:
        return _gap_reason(expected_sequence, event)
    if event.prev_hash != expected_prev:
        return (
            "its prev_hash does not match the event before it "
            "(that event was edited, removed or replaced)"
        )
    if event.key_id == keys.UNKEYED and keyed_seen:
        return (
            "it carries no key id after the chain was keyed (forged: only events older "
            "than the first keyed event may be unkeyed)"
        )
    try:
        recomputed = event_hash(
            key_id=event.key_id,
            sequence=event.sequence,
            prev_hash=event.prev_hash,
            occurred_at=event.occurred_at,
            actor_id=event.actor_id,
            actor_name=event.actor_name,
            action=event.action,
            target_type=event.target_type,
            target_id=event.target_id,
            payload=event.payload,
            request_id=event.request_id,
        )
    except keys.UnknownKeyError:
        return (
            f"it is signed with key id {event.key_id!r}, which is not configured "
            "(AUDIT_CHAIN_KEY or AUDIT_CHAIN_RETIRED_KEYS)"
        )
    if recomputed != event.hash:
        return "its content does not match its hash (the row was edited)"
    return ""


def _missing_tail(recorded: Sequence[checkpoints.Checkpoint], head_sequence: int) -> str | None:
    beyond = [c for c in recorded if c.sequence > head_sequence]
    if not beyond:
        return None
    furthest = max(beyond, key=lambda c: (c.sequence, c.number))
    first_missing = head_sequence + 1
    span = (
        f"event {first_missing}"
        if first_missing == furthest.sequence
        else f"events {first_missing}\u2013{furthest.sequence}"
    )
    verb = "is" if first_missing == furthest.sequence else "are"
    return f"{span} recorded in {furthest.label} {verb} missing (the chain's tail was removed)"


def _reached(recorded: Sequence[checkpoints.Checkpoint], head_sequence: int) -> str | None:
    confirmed = [c for c in recorded if c.sequence <= head_sequence]
    if not confirmed:
        return None
    newest = max(confirmed, key=lambda c: (c.sequence, c.number))
    return f"{newest.number} (sequence {newest.sequence}, {newest.sink})"


def _events_in_chain_order(chunk_size: int) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=chunk_size)


def _gap_reason(expected_sequence: int, event: AuditEvent) -> str:
    missing = (
        f"sequence {expected_sequence}"
        if event.sequence == expected_sequence + 1
        else f"sequences {expected_sequence}-{event.sequence - 1}"
    )
    return f"the event(s) before it are missing ({missing} deleted)"


def _broken(event: AuditEvent, checked: int, head: str, reason: str) -> ChainVerification:
    return ChainVerification(
        checked=checked,
        head_sequence=event.sequence - 1,
        head_hash=head,
        first_break=ChainBreak(event_id=event.pk, sequence=event.sequence, reason=reason),
    )


def _lock_chain_for_append() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_POSTGRES_APPEND_LOCK_KEY])


def _normalised(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload exactly as the JSON column will give it back, so the hash stays valid."""
    try:
        text = json.dumps(dict(payload), cls=DjangoJSONEncoder, allow_nan=False, sort_keys=True)
    except ValueError as error:
        raise ValueError(f"audit payload is not valid JSON: {error}") from None
    return json.loads(text)
