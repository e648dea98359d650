"""The batch histogram's bins meet the policy's thresholds, so each bar has one outcome."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest

from scoring.batch_charts import aligned_histogram
from scoring.policy import outcome_for


def policy(approve: float, reject: float) -> SimpleNamespace:
    return SimpleNamespace(approve_below=approve, reject_at_or_above=reject)


@pytest.mark.parametrize(
    ("approve", "reject", "uniform"),
    [(0.08, 0.25, False), (0.05, 0.2, True), (0.1, 0.3, True), (0.0837, 0.2213, False)],
)
def test_every_bin_holds_one_outcome_and_counts_every_pd(approve, reject, uniform) -> None:
    rules = policy(approve, reject)
    rng = random.Random(4)
    values = [rng.random() * 0.5 for _ in range(2000)] + [approve, reject, 0.0, 0.999]
    histogram = aligned_histogram(values, rules)
    edges = histogram["edges"]
    assert sum(histogram["counts"]) == len(values)
    assert approve in edges and reject in edges
    widths = {round(b - a, 9) for a, b in itertools.pairwise(edges)}
    assert (len(widths) == 1) is uniform
    # Recount by hand: each value in the last bin whose lower edge is <= it; every value in
    # a bin gets that bin's zone from the policy itself.
    for value in values:
        index = max(i for i, edge in enumerate(edges) if edge <= value)
        assert histogram["zones"][index] == outcome_for(value, rules), value
    assert len(edges) <= 40


def test_uniform_bins_when_a_round_width_divides_both_thresholds() -> None:
    histogram = aligned_histogram([0.01, 0.12, 0.31], policy(0.05, 0.2))
    assert histogram["edges"][:3] == [0.0, 0.05, 0.1]
    assert histogram["labels"][0] == "0\u20135%"
    assert histogram["zones"][:5] == ["APPROVE", "REFER", "REFER", "REFER", "REJECT"]
