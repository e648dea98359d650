"""The only way into the audit trail: `record()` appends, `verify()` checks the whole chain.

Appends are serialised so concurrent writers never fork the chain: on PostgreSQL with a
transaction-scoped advisory lock, on SQLite by its IMMEDIATE transactions (see settings). Call
`record()` inside the transaction of the change it records, so both commit or neither does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from audits.actions import AuditAction
from audits.models import AuditEvent
from credscope_site.fields import bulk_batch_size
from credscope_site.middleware import current_request_id

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR_NAME = "system"
# Any constant works; it only has to be the same in every process that appends.
_POSTGRES_APPEND_LOCK_KEY = 0x43524544_41554454  # "CRED" "AUDT"


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


def _append(contents: list[dict[str, Any]]) -> list[AuditEvent]:
    if not contents:
        return []
    # No savepoint: an audit append that fails must fail the change it records, so there is
    # nothing to roll back to inside the caller's transaction (and two statements fewer).
    with transaction.atomic(savepoint=False):
        _lock_chain_for_append()
        last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
        sequence = last["sequence"] if last else 0
        prev_hash = last["hash"] if last else GENESIS_HASH
        events = []
        for content in contents:
            sequence += 1
            digest = event_hash(sequence=sequence, prev_hash=prev_hash, **content)
            events.append(
                AuditEvent(sequence=sequence, prev_hash=prev_hash, hash=digest, **content)
            )
            prev_hash = digest
        if len(events) == 1:
            events[0].save(force_insert=True)
            return events
        return AuditEvent.objects.bulk_create(events, batch_size=bulk_batch_size(AuditEvent))


def event_hash(
    *,
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
    """sha256 of the previous hash and the canonical JSON of the event's content."""
    canonical = json.dumps(
        {
            "sequence": sequence,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "actor_name": actor_name,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "payload": payload,
            "request_id": request_id,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


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
    checked: int
    head_hash: str
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def verify(chunk_size: int = 2000) -> ChainVerification:
    """Recompute every hash in order; report the first event that was edited, removed or moved."""
    expected_sequence, expected_prev, checked = 1, GENESIS_HASH, 0
    for event in _events_in_chain_order(chunk_size):
        checked += 1
        if event.sequence != expected_sequence:
            return _broken(event, checked, expected_prev, _gap_reason(expected_sequence, event))
        if event.prev_hash != expected_prev:
            reason = (
                "its prev_hash does not match the event before it "
                "(that event was edited, removed or replaced)"
            )
            return _broken(event, checked, expected_prev, reason)
        recomputed = event_hash(
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
        if recomputed != event.hash:
            reason = "its content does not match its hash (the row was edited)"
            return _broken(event, checked, expected_prev, reason)
        expected_sequence, expected_prev = event.sequence + 1, event.hash
    return ChainVerification(checked=checked, head_hash=expected_prev, first_break=None)


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
