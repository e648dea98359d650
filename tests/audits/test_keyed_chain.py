"""The keyed chain: only the holder of AUDIT_CHAIN_KEY can produce a valid event; keys rotate,
and a chain recorded before keying is sealed by an `audit.rekeyed` event."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC

import pytest
from django.core.management import CommandError, call_command

from audits import keys, trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from tests.audits.test_trail import record_n, tamper

OTHER_KEY = "rotated-" + "x" * 40


def forge_from(events: list[AuditEvent], index: int, *, payload: dict, key_id: str, sign) -> None:
    """Edit events[index]'s payload and re-link every later event, signing with `sign`:
    what an insider without the key can do to the table."""
    prev = events[index - 1].hash if index else trail.GENESIS_HASH
    for position, event in enumerate(events[index:], start=index):
        content = {
            "sequence": event.sequence,
            "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": event.actor_id, "actor_name": event.actor_name, "action": event.action,
            "target_type": event.target_type, "target_id": event.target_id,
            "payload": payload if position == index else event.payload,
            "request_id": event.request_id,
        }  # fmt: skip
        if key_id:
            content["key_id"] = key_id
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = sign(prev + canonical)
        tamper(
            "UPDATE audits_auditevent SET payload = %s, prev_hash = %s, hash = %s, key_id = %s "
            "WHERE id = %s",
            [json.dumps(content["payload"]), prev, digest, key_id, event.pk],
        )
        prev = digest


@pytest.mark.django_db
def test_each_event_is_an_hmac_under_the_configured_key(settings) -> None:
    event = record_n(1)[0]
    assert event.key_id == settings.AUDIT_CHAIN_KEY_ID and event.key_id
    key = settings.AUDIT_CHAIN_KEYS[event.key_id]
    content = {
        "sequence": 1,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": None, "actor_name": "system", "action": event.action, "target_type": "",
        "target_id": "", "payload": {"n": 0}, "request_id": "", "key_id": event.key_id,
    }  # fmt: skip
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hmac.new(key, (trail.GENESIS_HASH + canonical).encode(), hashlib.sha256)
    assert event.hash == expected.hexdigest()
    assert event.hash != hashlib.sha256((trail.GENESIS_HASH + canonical).encode()).hexdigest()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "how",
    ["sha256, key id kept", "sha256, posing as a legacy event", "HMAC under a guessed key"],
)
def test_edit_rehashed_without_the_key_is_named(how: str, settings) -> None:
    events = record_n(6)
    real_id = settings.AUDIT_CHAIN_KEY_ID
    if how == "HMAC under a guessed key":
        key_id, sign = real_id, lambda m: hmac.new(b"guess", m.encode(), "sha256").hexdigest()
    else:
        key_id = real_id if how == "sha256, key id kept" else keys.UNKEYED
        sign = lambda m: hashlib.sha256(m.encode()).hexdigest()  # noqa: E731
    forge_from(events, 3, payload={"outcome": "REJECT"}, key_id=key_id, sign=sign)
    result = trail.verify()
    assert not result.intact
    if key_id == keys.UNKEYED:
        # Posing as pre-key history: refused, because keyed events came before it.
        assert result.first_break.sequence == 4
        assert "no key id after the chain was keyed" in result.first_break.reason
    else:
        assert result.first_break.sequence == 4
        assert "content does not match its hash" in result.first_break.reason
    with pytest.raises(CommandError, match=rf"event id={events[3].pk} \(sequence 4\)"):
        call_command("verify_audit_trail")


@pytest.mark.django_db
def test_rotation_keeps_old_events_verifiable_and_names_a_missing_key(settings) -> None:
    old_keys, old_id = dict(settings.AUDIT_CHAIN_KEYS), settings.AUDIT_CHAIN_KEY_ID
    record_n(2)
    settings.AUDIT_CHAIN_KEYS = {**old_keys, "2027": OTHER_KEY.encode()}
    settings.AUDIT_CHAIN_KEY_ID = "2027"
    rekeyed = trail.chain_rekey()
    assert rekeyed.action == AuditAction.AUDIT_REKEYED and rekeyed.key_id == "2027"
    assert rekeyed.payload == {
        "from_key_id": old_id, "to_key_id": "2027", "sealed_sequence": 2,
        "sealed_hash": AuditEvent.objects.get(sequence=2).hash,
    }  # fmt: skip
    assert trail.chain_rekey() is None  # already under the current key
    record_n(1)
    stored_ids = [e.key_id for e in AuditEvent.objects.order_by("sequence")]
    assert stored_ids == [old_id, old_id, "2027", "2027"]
    assert trail.verify().intact

    settings.AUDIT_CHAIN_KEYS = {"2027": OTHER_KEY.encode()}  # the retired key was dropped
    result = trail.verify()
    assert result.first_break.sequence == 1
    assert f"key id {old_id!r}, which is not configured" in result.first_break.reason


@pytest.mark.django_db
def test_a_legacy_chain_is_sealed_and_stays_verifiable(settings) -> None:
    keyed_id = settings.AUDIT_CHAIN_KEY_ID
    settings.AUDIT_CHAIN_KEY_ID = keys.UNKEYED  # record as the code did before keying
    legacy = record_n(3)
    assert {e.key_id for e in legacy} == {""}
    settings.AUDIT_CHAIN_KEY_ID = keyed_id
    assert trail.verify().head_unkeyed
    call_command("audit_rekey")
    seal = AuditEvent.objects.get(sequence=4)
    assert seal.action == AuditAction.AUDIT_REKEYED and seal.payload["sealed_sequence"] == 3
    result = trail.verify()
    assert result.intact and not result.head_unkeyed and result.checked == 4

    # Rewriting pre-key history, even with all of it re-hashed, breaks the keyed seal.
    forge_from(legacy, 1, payload={"n": 99}, key_id=keys.UNKEYED,
               sign=lambda m: hashlib.sha256(m.encode()).hexdigest())  # fmt: skip
    broken = trail.verify()
    assert broken.first_break.sequence == 4
    assert "prev_hash does not match" in broken.first_break.reason
