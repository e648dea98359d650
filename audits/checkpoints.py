"""Checkpoints: the audit chain's head, signed, kept outside the database.

Whoever can rewrite the audit table can also drop its newest rows and leave a chain that
still links. A checkpoint records (sequence, hash) of the head at a moment, signed with the
chain's key, somewhere the database's owner cannot reach; `trail.verify()` then names events a
checkpoint saw that the table no longer has. Sinks are listed in
CREDSCOPE_AUDIT_CHECKPOINT_SINKS; each implements `CheckpointSink` (append, read back).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from audits import keys
from audits.models import AuditEvent

logger = logging.getLogger(__name__)
#: More than one checkpoint line (about 300 bytes) from the end of a file.
_TAIL_BYTES = 8192


@dataclass(frozen=True)
class Head:
    """The newest event of the chain: what a checkpoint records."""

    sequence: int
    hash: str
    key_id: str


@dataclass(frozen=True)
class Checkpoint:
    """One signed record of the head, numbered from 1 within its sink."""

    number: int
    sequence: int
    hash: str
    event_key_id: str
    written_at: str
    signed_with: str
    signature: str
    sink: str = ""

    @property
    def label(self) -> str:
        return f"checkpoint {self.number} ({self.sink})"

    def signed_text(self) -> str:
        """What the signature covers: everything but the signature and the sink's name."""
        fields = asdict(self)
        del fields["signature"], fields["sink"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))


class CheckpointError(Exception):
    """A sink holds something that is not a valid checkpoint; the message names where."""


class CheckpointSink(ABC):
    """Somewhere outside the audit table that keeps checkpoints, append-only."""

    #: Shown in verification results ("checkpoint 9 (file /var/...)").
    name: str

    @abstractmethod
    def append(self, head: Head) -> Checkpoint:
        """Number, sign and durably store a checkpoint of `head`; return it."""

    @abstractmethod
    def read_all(self) -> list[Checkpoint]:
        """Every checkpoint stored, oldest first; CheckpointError for an unreadable one."""

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint (sinks that can should answer without reading them all)."""
        stored = self.read_all()
        return stored[-1] if stored else None


class FileCheckpointSink(CheckpointSink):
    """JSON lines appended to `checkpoints.jsonl` under CREDSCOPE_AUDIT_CHECKPOINT_DIR.

    Writers take an exclusive lock, so concurrent processes number checkpoints without gaps,
    and fsync each line. Mount the directory on other storage than the database's and make
    the file append-only there (`chattr +a`, a WORM volume) for the guarantee to hold.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.path = Path(directory or settings.CREDSCOPE_AUDIT_CHECKPOINT_DIR) / (
            "checkpoints.jsonl"
        )
        self.name = f"file {self.path}"

    def append(self, head: Head) -> Checkpoint:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            newest = self._last(handle)
            number = newest.number + 1 if newest else 1
            checkpoint = checkpoint_signed(number=number, head=head, sink=self.name)
            record = asdict(checkpoint)
            del record["sink"]
            handle.write((json.dumps(record, sort_keys=True) + "\n").encode())
            handle.flush()
            os.fsync(handle.fileno())
        return checkpoint

    def latest(self) -> Checkpoint | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as handle:
            return self._last(handle)

    def _last(self, handle: BinaryIO) -> Checkpoint | None:
        """The last line's checkpoint, read from the end: the file only grows, and numbering
        the next one must not cost a read of all before it."""
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        handle.seek(max(0, size - _TAIL_BYTES))
        lines = [line for line in handle.read().splitlines() if line.strip()]
        if not lines:
            return None
        try:
            return Checkpoint(**json.loads(lines[-1]), sink=self.name)
        except (ValueError, TypeError) as error:
            raise CheckpointError(f"{self.path}, last line: not a checkpoint ({error})") from None

    def read_all(self) -> list[Checkpoint]:
        if not self.path.exists():
            return []
        found = []
        with self.path.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    found.append(Checkpoint(**json.loads(line), sink=self.name))
                except (ValueError, TypeError) as error:
                    raise CheckpointError(
                        f"{self.path}, line {line_number}: not a checkpoint ({error})"
                    ) from None
        return found


def checkpoint_signed(*, number: int, head: Head, sink: str) -> Checkpoint:
    """A checkpoint of `head`, signed with the current key."""
    unsigned = Checkpoint(
        number=number,
        sequence=head.sequence,
        hash=head.hash,
        event_key_id=head.key_id,
        written_at=timezone.now().isoformat(timespec="seconds"),
        signed_with=keys.signing_key_id(),
        signature="",
        sink=sink,
    )
    signature = keys.sign(keys.signing_key_id(), unsigned.signed_text())
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def configured_sinks() -> list[CheckpointSink]:
    return [import_string(path)() for path in settings.CREDSCOPE_AUDIT_CHECKPOINT_SINKS]


def chain_head() -> Head | None:
    row = AuditEvent.objects.order_by("-sequence").values("sequence", "hash", "key_id").first()
    return Head(**row) if row else None


def checkpoint_write(*, head: Head | None = None, force: bool = False) -> list[Checkpoint]:
    """Write the head (the table's current one unless given) to every sink.

    A sink whose newest checkpoint already records this head is skipped unless `force`, so
    the five-minute beat on a quiet system adds nothing. Returns the checkpoints written.
    """
    head = head or chain_head()
    if head is None:
        return []
    written = []
    for sink in configured_sinks():
        newest = sink.latest()
        if not force and newest is not None and newest.sequence >= head.sequence:
            continue
        written.append(sink.append(head))
        logger.info("audit %s written at sequence %d", written[-1].label, head.sequence)
    return written


@dataclass(frozen=True)
class RecordedCheckpoints:
    """Every checkpoint whose signature holds, and the first problem met, if any."""

    checkpoints: list[Checkpoint]
    problem: str | None


def checkpoint_read_all() -> RecordedCheckpoints:
    """Read every sink and check each checkpoint's signature."""
    good: list[Checkpoint] = []
    for sink in configured_sinks():
        try:
            stored = sink.read_all()
        except CheckpointError as error:
            return RecordedCheckpoints(good, f"unreadable checkpoint: {error}")
        for expected_number, checkpoint in enumerate(stored, start=1):
            problem = _signature_problem(checkpoint)
            if not problem and checkpoint.number != expected_number:
                problem = f"is numbered {checkpoint.number} where {expected_number} belongs"
            if problem:
                return RecordedCheckpoints(good, f"{checkpoint.label} {problem}")
            good.append(checkpoint)
    return RecordedCheckpoints(good, None)


def _signature_problem(checkpoint: Checkpoint) -> str:
    if checkpoint.signed_with == keys.UNKEYED:
        return "is unsigned"
    try:
        if keys.matches(checkpoint.signed_with, checkpoint.signed_text(), checkpoint.signature):
            return ""
    except keys.UnknownKeyError:
        return f"is signed with key id {checkpoint.signed_with!r}, which is not configured"
    return "has a bad signature (the checkpoint was edited)"
