"""The audit trail as CSV: the rows an investigator filtered, streamed, never held in memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from audits.models import AuditEvent
from audits.presentation import action_label, target_of

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """csv.writer writes into this and we hand each line on instead of buffering it."""

    def write(self, value: str) -> str:
        return value


def header() -> list[str]:
    zone = timezone.get_current_timezone_name()
    return [
        "sequence",
        f"occurred_at ({zone})",
        "actor",
        "action",
        "action_label",
        "target_type",
        "target_id",
        "target",
        "payload",
        "request_id",
        "key_id",
        "hash",
    ]


def csv_lines(events: QuerySet[AuditEvent], chunk_size: int = 2000) -> Iterator[str]:
    """Header, then one line per event in the queryset's order."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header())
    for event in events.iterator(chunk_size=chunk_size):
        target = target_of(event)
        yield writer.writerow(
            [
                event.sequence,
                timezone.localtime(event.occurred_at).isoformat(timespec="seconds"),
                _cell(event.actor_name),
                event.action,
                action_label(event.action),
                event.target_type,
                _cell(event.target_id),
                target.label if target else "",
                _cell(json.dumps(event.payload, sort_keys=True, ensure_ascii=False)),
                _cell(event.request_id),
                event.key_id,
                event.hash,
            ]
        )


def _cell(value: str) -> str:
    """Text a spreadsheet would run as a formula is prefixed with ' (attempted usernames and
    justifications are typed by other people)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
