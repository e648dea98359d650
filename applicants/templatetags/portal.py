"""Template filters for the officer's pages."""

from __future__ import annotations

from datetime import datetime

from django import template

from audits.actions import AuditAction
from credscope_site import formatting
from scoring.band_guide import band_guide as guide_for
from scoring.models import DecisionPolicy
from scoring.policy import current_policy

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; None -> an em dash."""
    return formatting.percent(value, digits)


@register.filter
def money(value: float | None) -> str:
    """A whole amount in the configured currency with thousands separators."""
    return formatting.money(value)


@register.filter
def when(value: datetime | None, precision: str = "minutes") -> str:
    """A time in the configured zone, named: `{{ t|when }}`, `{{ t|when:"seconds" }}`."""
    return formatting.when(value, seconds=precision == "seconds")


@register.filter
def action_label(value: str) -> str:
    """An audit action's readable name ("decision.overridden" -> "Decision overridden")."""
    try:
        return AuditAction(value).label
    except ValueError:
        return value


@register.inclusion_tag("applicants/_band_guide.html")
def band_guide() -> dict:
    """What a risk band means next to an outcome, under the policy in force."""
    try:
        policy = current_policy()
    except DecisionPolicy.DoesNotExist:
        return {"rows": []}
    return {"policy": policy, "rows": guide_for(policy)}
