"""Template filters of the model pages: rates as percentages, PSI levels as colours."""

from __future__ import annotations

import math
from typing import Any

from django import template

register = template.Library()


@register.filter
def percent(value: Any, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; "—" for nothing to show."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(number):
        return "—"
    return f"{number * 100:.{int(digits)}f}%"


@register.filter
def signed_points(value: Any) -> str:
    """A change in a rate, in percentage points: 0.012 -> "+1.2 pp"."""
    if value is None:
        return "—"
    return f"{float(value) * 100:+.1f} pp"


@register.filter
def get_item(mapping: dict, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def signed_decimal(value: Any, digits: int = 4) -> str:
    """A change in a plain figure with its sign: 0.0002 -> "+0.0002"."""
    if value is None:
        return "—"
    return f"{float(value):+.{int(digits)}f}"
