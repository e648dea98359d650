"""Template filters for fairness audits: ratios, p-values and verdict styles."""

from __future__ import annotations

from django import template

from audits.fairness_presentation import attribute_verdicts as _attribute_verdicts
from audits.models import FairnessAudit

register = template.Library()
DASH = "\u2014"


@register.filter
def ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


@register.filter
def pvalue(value: float | None) -> str:
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


@register.filter
def signed(value: float | None) -> str:
    return DASH if value is None else f"{value:+.3f}"


@register.filter
def attribute_verdicts(audit: FairnessAudit) -> list[dict[str, str]]:
    return _attribute_verdicts(audit)
