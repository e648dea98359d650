"""Checkpoints outside the database catch what a re-linked chain hides: a removed tail, or a
chain rewritten from the start."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from audits import checkpoints, tasks, trail
from audits.actions import AuditAction
from audits.checkpoints import FileCheckpointSink
from audits.models import AuditEvent
from tests.audits.test_keyed_chain import forge_from
from tests.audits.test_trail import record_n, tamper


def lines(directory) -> list[dict]:
    path = directory / "checkpoints.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.django_db
def test_every_n_events_a_signed_checkpoint_is_written_after_commit(
    settings, audit_checkpoint_dir, django_capture_on_commit_callbacks
) -> None:
    settings.CREDSCOPE_AUDIT_CHECKPOINT_EVERY = 10
    with django_capture_on_commit_callbacks(execute=True):
        record_n(9)
    assert lines(audit_checkpoint_dir) == []
    with django_capture_on_commit_callbacks(execute=True):
        record_n(13)  # crosses 10 and 20, in separate appends
    written = lines(audit_checkpoint_dir)
    assert [(c["number"], c["sequence"]) for c in written] == [(1, 10), (2, 20)]
    assert written[1]["hash"] == AuditEvent.objects.get(sequence=20).hash
    assert written[1]["signed_with"] == settings.AUDIT_CHAIN_KEY_ID
    # A batch append that crosses a multiple checkpoints its last event.
    with django_capture_on_commit_callbacks(execute=True):
        trail.record_many([{"action": AuditAction.TRAIL_VERIFIED, "payload": {}}] * 9)
    assert lines(audit_checkpoint_dir)[-1]["sequence"] == 31
    result = trail.verify()
    assert result.intact and result.checkpoints_checked == 3
    assert result.checkpoint_reached.startswith("3 (sequence 31")


@pytest.mark.django_db
def test_a_rolled_back_append_writes_no_checkpoint(
    settings, audit_checkpoint_dir, django_capture_on_commit_callbacks
) -> None:
    settings.CREDSCOPE_AUDIT_CHECKPOINT_EVERY = 1
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        record_n(1)
        raise RuntimeError("the change failed")
    assert callbacks == [] and lines(audit_checkpoint_dir) == []


@pytest.mark.django_db
def test_a_deleted_tail_is_named_by_the_range_a_checkpoint_recorded(audit_checkpoint_dir) -> None:
    record_n(45)
    call_command("audit_checkpoint")  # checkpoint 1 at 45
    tamper("DELETE FROM audits_auditevent WHERE sequence >= %s", [41])
    result = trail.verify()
    assert result.first_break is None and not result.intact
    assert result.checkpoint_problem.startswith("events 41\u201345 recorded in checkpoint 1 (file ")
    assert result.checkpoint_problem.endswith("are missing (the chain's tail was removed)")
    with pytest.raises(CommandError, match="events 41\u201345 recorded in checkpoint 1"):
        call_command("verify_audit_trail")


@pytest.mark.django_db
def test_a_chain_rewritten_from_the_start_disagrees_with_the_checkpoint() -> None:
    events = record_n(5)
    checkpoints.checkpoint_write()
    # Everything re-hashed as a "legacy" chain: it links, but not to what was checkpointed.
    forge_from(events, 0, payload={"n": 42}, key_id="",
               sign=lambda m: hashlib.sha256(m.encode()).hexdigest())  # fmt: skip
    result = trail.verify()
    assert result.first_break.sequence == 5
    assert "differs from the one checkpoint 1" in result.first_break.reason


@pytest.mark.django_db
def test_an_edited_checkpoint_file_is_refused(audit_checkpoint_dir) -> None:
    record_n(3)
    checkpoints.checkpoint_write()
    path = audit_checkpoint_dir / "checkpoints.jsonl"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "sequence": 2}) + "\n")
    assert "checkpoint 1 (file" in trail.verify().checkpoint_problem
    assert "bad signature" in trail.verify().checkpoint_problem
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(CommandError, match=r"checkpoints.jsonl, line 2: not a checkpoint"):
        call_command("verify_audit_trail")


class SecondSink(FileCheckpointSink):
    """Another sink behind the same interface (as a second store would be)."""

    def __init__(self) -> None:
        from django.conf import settings

        super().__init__(settings.CREDSCOPE_AUDIT_CHECKPOINT_DIR / "second")
        self.name = f"second {self.path}"


@pytest.mark.django_db
def test_every_configured_sink_gets_the_checkpoint_and_the_beat_skips_a_quiet_chain(
    settings, audit_checkpoint_dir
) -> None:
    settings.CREDSCOPE_AUDIT_CHECKPOINT_SINKS = [
        "audits.checkpoints.FileCheckpointSink",
        "tests.audits.test_checkpoints.SecondSink",
    ]
    assert tasks.write_audit_checkpoint() == []  # empty chain: nothing to record
    record_n(4)
    written = tasks.write_audit_checkpoint()
    assert [c["sequence"] for c in written] == [4, 4]
    assert len(lines(audit_checkpoint_dir)) == len(lines(audit_checkpoint_dir / "second")) == 1
    assert tasks.write_audit_checkpoint() == []  # nothing new since
    tamper("DELETE FROM audits_auditevent WHERE sequence = %s", [4])
    problem = trail.verify().checkpoint_problem
    assert problem.startswith("event 4 recorded in checkpoint 1 (file ")
