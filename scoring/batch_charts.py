"""The batch page's charts: probabilities of default binned on the policy's own thresholds,
and the rows per risk band.

The histogram's bins meet the approve and reject thresholds exactly, so each bar is wholly in
one zone and its colour is the outcome of every application in it (a bin straddling a
threshold would be painted one colour while holding two outcomes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.db.models import Count

from scoring.models import BatchJob, Decision, DecisionPolicy, RiskBand
from scoring.policy import Thresholds, current_policy, outcome_for

# Bin widths in basis points, widest first; the first that divides both thresholds is used.
_WIDTHS_BP = (500, 250, 200, 100, 50, 25, 10, 5)
MAX_BINS = 40


def aligned_histogram(probabilities: Iterable[float], policy: Thresholds) -> dict[str, Any]:
    """Counts of PDs in bins whose edges include both policy thresholds, each bin with the
    outcome all its PDs get. Uniform bins when a round width divides both thresholds; else
    the round grid with the thresholds added as edges (their bins are narrower, and say so)."""
    values = list(probabilities)
    approve, reject = policy.approve_below, policy.reject_at_or_above
    top = max([reject * 1.2, *values]) if values else reject * 1.2
    upper = min(1.0, max(0.1, math.ceil(round(top / 0.05, 9)) * 0.05))
    approve_bp, reject_bp = round(approve * 10_000), round(reject * 10_000)
    aligned = math.isclose(approve * 10_000, approve_bp) and math.isclose(
        reject * 10_000, reject_bp
    )
    width_bp = next(
        (
            w
            for w in _WIDTHS_BP
            if aligned
            and approve_bp % w == 0
            and reject_bp % w == 0
            and upper * 10_000 / w <= MAX_BINS
        ),
        None,
    )
    if width_bp is None:  # thresholds off any round grid: add them to a ~20-bin grid
        width_bp = next(w for w in reversed(_WIDTHS_BP) if upper * 10_000 / w <= 20)
    grid = {i * width_bp / 10_000 for i in range(math.ceil(round(upper * 10_000 / width_bp, 9)))}
    edges = sorted(grid | {t for t in (approve, reject) if 0 < t < upper})
    uppers = [*edges[1:], upper]
    counts = [0] * len(edges)
    for value in values:
        index = max(0, _bin_of(value, edges))
        counts[index] += 1
    labels = [f"{lo * 100:g}\u2013{hi * 100:g}%" for lo, hi in zip(edges, uppers, strict=True)]
    if upper < 1.0:
        labels[-1] = f"\u2265 {edges[-1] * 100:g}%"  # the last bin is open: it takes the rest
    zones = [outcome_for(lo, policy) for lo in edges]  # every PD in [lo, hi) gets lo's outcome
    return {"labels": labels, "counts": counts, "zones": zones, "edges": edges}


def _bin_of(value: float, edges: list[float]) -> int:
    """The last bin whose lower edge is <= value (bisect, spelled out for the float edges)."""
    low, high = 0, len(edges)
    while low < high:
        middle = (low + high) // 2
        if edges[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low - 1


def batch_policy(*, batch: BatchJob) -> DecisionPolicy:
    """The policy the batch's decisions were made under (the one in force if none yet)."""
    first = Decision.objects.filter(application__batch=batch).select_related("policy").first()
    return first.policy if first is not None else current_policy()


def batch_histogram(*, batch: BatchJob) -> dict[str, Any]:
    probabilities = Decision.objects.filter(application__batch=batch).values_list(
        "probability_of_default", flat=True
    )
    return aligned_histogram(probabilities, batch_policy(batch=batch))


def batch_band_counts(*, batch: BatchJob) -> dict[str, list]:
    """Decided rows per risk band, every band listed (lowest risk first)."""
    counts = dict(
        Decision.objects.filter(application__batch=batch)
        .values_list("risk_band")
        .annotate(n=Count("pk"))
        .values_list("risk_band", "n")
    )
    return {
        "bands": [band.value for band in RiskBand],
        "labels": [band.label for band in RiskBand],
        "counts": [counts.get(band.value, 0) for band in RiskBand],
    }
