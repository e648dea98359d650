"""Numbers and times as people read them: one place for every page, CSV note and message.

Amounts carry the configured currency (`CREDSCOPE_CURRENCY`, an ISO 4217 code) and thousands
separators; times are shown in the configured time zone (`TIME_ZONE`) with the zone named,
so an officer in Prague and the audit trail agree on what "14:05" means.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

DASH = "\u2014"
NBSP = "\u00a0"


def money(value: float | Decimal | int | None) -> str:
    """450000 -> "EUR 450,000" (whole units; a no-break space keeps the code with the figure)."""
    if value is None:
        return DASH
    return f"{settings.CREDSCOPE_CURRENCY}{NBSP}{float(value):,.0f}"


def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; None -> an em dash."""
    if value is None:
        return DASH
    return f"{value * 100:.{int(digits)}f}%"


def when(value: datetime | None, *, seconds: bool = False) -> str:
    """An aware time in the configured zone, named: "2026-12-03 14:05 CET"."""
    if value is None:
        return DASH
    local = timezone.localtime(value)
    return local.strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")


def time_zone_name() -> str:
    """The configured zone's name, as the pages state it ("Europe/Prague")."""
    return str(settings.TIME_ZONE)
