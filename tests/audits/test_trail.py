"""The hash-chained audit trail: intact chains verify, any edit or removal is named."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent


def record_n(n: int, **kwargs) -> list[AuditEvent]:
    return [
        trail.record(action=AuditAction.TRAIL_VERIFIED, payload={"n": i, **kwargs})
        for i in range(n)
    ]


def tamper(sql: str, params: list) -> None:
    """Change the table behind the service's back (on PostgreSQL, past the trigger too)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A superuser session that skips triggers: what an attacker with DB rights could do.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.mark.django_db
def test_record_links_each_event_to_the_one_before(officer) -> None:
    first, second = record_n(2)
    third = trail.record(action=AuditAction.LOGIN, actor=officer, target=officer)
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert first.prev_hash == trail.GENESIS_HASH
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert third.actor_name == "officer"
    assert (third.target_type, third.target_id) == ("auth.user", str(officer.pk))
    result = trail.verify()
    assert result.intact and result.checked == 3 and result.head_hash == third.hash


def test_record_many_appends_in_order_as_one_chain(officer) -> None:
    first = trail.record(action=AuditAction.LOGIN, actor=officer)
    events = trail.record_many(
        [
            {"action": AuditAction.APPLICATION_DECIDED, "target_type": "t", "target_id": i,
             "payload": {"row": i}}
            for i in range(3)
        ]
    )  # fmt: skip
    assert [e.sequence for e in events] == [2, 3, 4]
    assert events[0].prev_hash == first.hash and events[2].prev_hash == events[1].hash
    stored = list(AuditEvent.objects.order_by("sequence"))
    assert [e.pk for e in stored[1:]] == [e.pk for e in events]
    assert [e.payload for e in stored[1:]] == [{"row": 0}, {"row": 1}, {"row": 2}]
    assert trail.verify().intact
    assert trail.record_many([]) == []


@pytest.mark.django_db
def test_payload_is_stored_as_json_and_nan_is_refused() -> None:
    from datetime import date
    from decimal import Decimal

    event = trail.record(
        action=AuditAction.TRAIL_VERIFIED,
        payload={"day": date(2026, 1, 2), "amount": Decimal("1.5")},
    )
    event.refresh_from_db()
    assert event.payload == {"amount": "1.5", "day": "2026-01-02"}
    assert trail.verify().intact
    with pytest.raises(ValueError, match="not valid JSON"):
        trail.record(action=AuditAction.TRAIL_VERIFIED, payload={"x": float("nan")})


@pytest.mark.django_db
def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError):
        trail.record(action="made.up")
    assert AuditEvent.objects.count() == 0


@pytest.mark.django_db
def test_event_rolls_back_with_the_change_it_records() -> None:
    record_n(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        trail.record(action=AuditAction.TRAIL_VERIFIED, payload={"n": "doomed"})
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 1
    assert trail.verify().intact


@pytest.mark.django_db
def test_edited_row_is_named_by_verify_and_the_command() -> None:
    events = record_n(5)
    tamper("UPDATE audits_auditevent SET actor_name = %s WHERE id = %s", ["mallory", events[2].pk])
    result = trail.verify()
    assert not result.intact
    assert result.first_break.event_id == events[2].pk
    assert result.first_break.sequence == 3
    assert "edited" in result.first_break.reason
    with pytest.raises(CommandError, match=rf"event id={events[2].pk} \(sequence 3\)"):
        call_command("verify_audit_trail")


@pytest.mark.django_db
def test_deleted_row_is_detected_at_the_next_event() -> None:
    events = record_n(5)
    tamper("DELETE FROM audits_auditevent WHERE id = %s", [events[1].pk])
    result = trail.verify()
    assert result.first_break.event_id == events[2].pk
    assert "sequence 2 deleted" in result.first_break.reason


@pytest.mark.django_db
def test_rehashed_edit_is_still_caught_by_the_next_link() -> None:
    events = record_n(3)
    # Even an insider holding the key who re-signs one row is caught by the row after it.
    forged = trail.event_hash(
        key_id=events[1].key_id, sequence=2, prev_hash=events[0].hash,
        occurred_at=events[1].occurred_at,
        actor_id=None, actor_name="system", action=events[1].action, target_type="",
        target_id="", payload={"n": 99}, request_id="",
    )  # fmt: skip
    tamper(
        "UPDATE audits_auditevent SET payload = %s, hash = %s WHERE id = %s",
        ['{"n": 99}', forged, events[1].pk],
    )
    result = trail.verify()
    assert result.first_break.event_id == events[2].pk
    assert "prev_hash" in result.first_break.reason


@pytest.mark.django_db
def test_command_reports_an_intact_chain(capsys) -> None:
    record_n(3)
    call_command("verify_audit_trail")
    assert "audit trail intact: 3 event(s)" in capsys.readouterr().out


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audits_auditevent SET actor_name = 'mallory'",
        "DELETE FROM audits_auditevent",
        "TRUNCATE audits_auditevent",
        "TRUNCATE auth_user CASCADE",
    ],
)
def test_postgres_rejects_update_delete_and_truncate(statement: str) -> None:
    record_n(2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # Run the inserts' deferred foreign-key checks now: PostgreSQL refuses to TRUNCATE a
        # table with pending trigger events before our trigger gets to answer.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)
    assert AuditEvent.objects.filter(actor_name="mallory").count() == 0
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_concurrent_writers_leave_one_unbroken_chain() -> None:
    per_thread, threads = 15, 8
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(index: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                trail.record(action=AuditAction.TRAIL_VERIFIED, payload={"t": index, "n": n})
        except BaseException as error:  # surfaced below, so a failing thread fails the test
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    total = per_thread * threads
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == list(
        range(1, total + 1)
    )
    result = trail.verify()
    assert result.intact and result.checked == total


@pytest.mark.postgres
@pytest.mark.django_db
def test_record_many_splits_inserts_at_postgres_parameter_limit() -> None:
    """A 10,000-row batch appends 10,000 events: more bound parameters than one statement
    may carry (65,535) with server-side binding."""
    count = 7_000
    events = trail.record_many(
        [{"action": AuditAction.APPLICATION_SUBMITTED, "target_id": i} for i in range(count)]
    )
    assert len(events) == count and events[-1].sequence == count
    assert AuditEvent.objects.count() == count and trail.verify().intact
