"""Template filters for the officer's pages."""

from __future__ import annotations

from django import template

from audits.actions import AuditAction

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; None -> an em dash."""
    if value is None:
        return "\u2014"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def money(value: float | None) -> str:
    """A whole amount with thousands separators."""
    if value is None:
        return "\u2014"
    return f"{float(value):,.0f}"


@register.filter
def action_label(value: str) -> str:
    """An audit action's readable name ("decision.overridden" -> "Decision overridden")."""
    try:
        return AuditAction(value).label
    except ValueError:
        return value
