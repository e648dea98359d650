"""How risk bands and outcomes relate under a policy, for the pages that show both.

The band describes the probability of default (PD); the outcome comes from the policy's
approve and reject thresholds, which need not sit on band edges. So one band can hold two
outcomes ("Medium" can be approve or refer), and a page showing both must say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from scoring.models import Outcome, RiskBand
from scoring.policy import Thresholds


@dataclass(frozen=True)
class BandRow:
    band: RiskBand
    lower: float  # inclusive
    upper: float  # exclusive (1.0 for the last band, which includes it)
    outcomes: tuple[Outcome, ...]

    @property
    def mixed(self) -> bool:
        return len(self.outcomes) > 1


def band_guide(policy: Thresholds) -> list[BandRow]:
    """Each band's PD range and the outcomes a PD in it can get, lowest risk first."""
    edges = [
        0.0,
        policy.very_low_below,
        policy.low_below,
        policy.medium_below,
        policy.high_below,
        1.0,
    ]
    rows = []
    for band, (lower, upper) in zip(RiskBand, pairwise(edges), strict=True):
        outcomes = []
        if lower < policy.approve_below:
            outcomes.append(Outcome.APPROVE)
        if lower < policy.reject_at_or_above and upper > policy.approve_below:
            outcomes.append(Outcome.REFER)
        if upper > policy.reject_at_or_above or (upper == 1.0 and policy.reject_at_or_above <= 1):
            outcomes.append(Outcome.REJECT)
        rows.append(BandRow(band, lower, upper, tuple(outcomes)))
    return rows
