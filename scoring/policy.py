"""The decision policy: which version is in force, how a new one is made, and how one maps a
probability of default (PD) to a risk band and an outcome.

A `DecisionPolicy` row (or anything with the same threshold attributes) maps a PD to a risk
band and an outcome. Thresholds are half-open on the right: a PD exactly on a threshold
belongs to the riskier side, so `approve_below=0.08` approves 0.0799 and refers 0.08. Each
change is a new, audited version; decisions keep the version that made them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Perm
from scoring.models import DecisionPolicy, Outcome, RiskBand

THRESHOLD_FIELDS: tuple[str, ...] = (
    "very_low_below",
    "low_below",
    "medium_below",
    "high_below",
    "approve_below",
    "reject_at_or_above",
)


class Thresholds(Protocol):
    very_low_below: float
    low_below: float
    medium_below: float
    high_below: float
    approve_below: float
    reject_at_or_above: float


@dataclass(frozen=True)
class PolicyResult:
    risk_band: RiskBand
    outcome: Outcome


def risk_band_for(probability_of_default: float, policy: Thresholds) -> RiskBand:
    """The band a PD falls in under `policy`."""
    _check_probability(probability_of_default)
    for upper, band in (
        (policy.very_low_below, RiskBand.VERY_LOW),
        (policy.low_below, RiskBand.LOW),
        (policy.medium_below, RiskBand.MEDIUM),
        (policy.high_below, RiskBand.HIGH),
    ):
        if probability_of_default < upper:
            return band
    return RiskBand.VERY_HIGH


def outcome_for(probability_of_default: float, policy: Thresholds) -> Outcome:
    """APPROVE below `approve_below`, REJECT at or above `reject_at_or_above`, else REFER."""
    _check_probability(probability_of_default)
    if probability_of_default < policy.approve_below:
        return Outcome.APPROVE
    if probability_of_default >= policy.reject_at_or_above:
        return Outcome.REJECT
    return Outcome.REFER


def policy_apply(probability_of_default: float, policy: Thresholds) -> PolicyResult:
    return PolicyResult(
        risk_band=risk_band_for(probability_of_default, policy),
        outcome=outcome_for(probability_of_default, policy),
    )


def threshold_errors(values: dict[str, float]) -> dict[str, str]:
    """Field -> message for thresholds that would not make a valid policy.

    The same rules as the database's check constraints, stated for a person: bands strictly
    increase inside (0, 1) and approval sits below rejection.
    """
    errors: dict[str, str] = {}
    for name in THRESHOLD_FIELDS:
        value = values.get(name)
        if value is None:
            errors[name] = "this field is required"
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors[name] = "must be a number"
        elif not math.isfinite(value) or not 0 < value <= 1:
            errors[name] = "must be a probability greater than 0 and at most 1"
    if errors:
        return errors
    bands = ("very_low_below", "low_below", "medium_below", "high_below")
    for lower, upper in pairwise(bands):
        if values[upper] <= values[lower]:
            errors[upper] = f"must be greater than {lower} ({values[lower]})"
    if values["high_below"] >= 1:
        errors["high_below"] = "must be below 1"
    if values["reject_at_or_above"] < values["approve_below"]:
        errors["reject_at_or_above"] = f"must be at least approve_below ({values['approve_below']})"
    return errors


def _check_probability(value: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"a probability of default must be within [0, 1], got {value!r}")


# --- versions ------------------------------------------------------------------------------


class PolicyInvalid(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def current_policy() -> DecisionPolicy:
    """The policy in force: the newest version (version 1 is created by a migration)."""
    policy = DecisionPolicy.objects.order_by("-version").first()
    if policy is None:
        raise DecisionPolicy.DoesNotExist("no decision policy: run the migrations")
    return policy


def policy_create(
    *,
    actor: AbstractBaseUser,
    very_low_below: float,
    low_below: float,
    medium_below: float,
    high_below: float,
    approve_below: float,
    reject_at_or_above: float,
    note: str = "",
) -> DecisionPolicy:
    """A new policy version, in force from now on, with its audit event (before and after).

    Only model admins may change the policy; decisions already made keep the version that
    made them. Raises `PermissionDenied` or `PolicyInvalid` (field -> message).
    """
    if not actor.has_perm(Perm.CHANGE_POLICY):
        raise PermissionDenied("only model admins may change the decision policy")
    values = {
        "very_low_below": very_low_below,
        "low_below": low_below,
        "medium_below": medium_below,
        "high_below": high_below,
        "approve_below": approve_below,
        "reject_at_or_above": reject_at_or_above,
    }
    errors = threshold_errors(values)
    if len(note or "") > 300:
        errors["note"] = "at most 300 characters"
    if errors:
        raise PolicyInvalid(errors)
    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            return _policy_save(actor=actor, values=values, note=note or "")
        except IntegrityError:
            # Two admins saved at once and took the same version number: take the next one.
            if attempt == attempts:
                raise
    raise IntegrityError("could not allocate a policy version")


@transaction.atomic
def _policy_save(*, actor: AbstractBaseUser, values: dict[str, float], note: str) -> DecisionPolicy:
    previous = DecisionPolicy.objects.order_by("-version").first()
    policy = DecisionPolicy.objects.create(
        version=(previous.version + 1) if previous else 1, note=note, created_by=actor, **values
    )
    trail.record(
        action=AuditAction.POLICY_CREATED,
        actor=actor,
        target=policy,
        payload={
            "version": policy.version,
            "note": policy.note,
            "before": _thresholds(previous) if previous else None,
            "after": _thresholds(policy),
        },
    )
    return policy


def _thresholds(policy: DecisionPolicy) -> dict[str, Any]:
    return {"version": policy.version, **{name: getattr(policy, name) for name in THRESHOLD_FIELDS}}
