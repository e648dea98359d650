"""The training population a model version was fitted on, as its bundle records it.

``reference.json`` holds, for every model feature, its missing rate and its quantiles over
the training rows (101 points, 0% to 100%). A directional reason ("low external scores")
is stated only when the applicant's value is on that side of the population's median, and
its fact says how the applicant compares ("80% of applicants score higher").

The shares are read off the quantile grid and are *conservative*: ``share_above(x)`` is
the largest grid share known to lie above ``x`` (so at least that many applicants do), which
keeps a stated fact true for discrete features with many ties (counts that are mostly 0).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The shares at which quantiles are recorded: 0%, 1%, ..., 100%.
QUANTILE_GRID = np.linspace(0.0, 1.0, 101)


def feature_reference(names: list[str], X: np.ndarray) -> dict[str, Any]:
    """Missing rate, median and quantiles of every column of the training matrix."""
    X = np.asarray(X, dtype=np.float64)
    out: dict[str, Any] = {}
    for j, name in enumerate(names):
        column = X[:, j]
        present = column[~np.isnan(column)]
        entry: dict[str, Any] = {"missing_rate": round(1.0 - len(present) / max(len(column), 1), 6)}
        if len(present):
            entry["quantiles"] = [float(f"{q:.7g}") for q in np.quantile(present, QUANTILE_GRID)]
        out[name] = entry
    return {"grid": "0..1 in 101 steps", "rows": int(X.shape[0]), "features": out}


@dataclass(frozen=True)
class Reference:
    """Read access to ``reference.json``."""

    features: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> Reference:
        return cls(features=payload.get("features", {}))

    def quantiles(self, feature: str) -> np.ndarray | None:
        return self._quantiles.get(feature)

    @functools.cached_property
    def _quantiles(self) -> dict[str, np.ndarray]:
        # Read per directional measure of every decision: made arrays once, not per read.
        return {
            name: np.asarray(entry["quantiles"], dtype=np.float64)
            for name, entry in self.features.items()
            if entry.get("quantiles") is not None
        }

    def median(self, feature: str) -> float | None:
        q = self.quantiles(feature)
        return None if q is None else float(q[50])

    def share_below(self, feature: str, value: float) -> float | None:
        """A share of the training population known to lie strictly below ``value``."""
        q = self.quantiles(feature)
        if q is None:
            return None
        k = int(np.searchsorted(q, value, side="left"))  # grid points < value
        return 0.0 if k == 0 else float(QUANTILE_GRID[k - 1])

    def share_above(self, feature: str, value: float) -> float | None:
        """A share of the training population known to lie strictly above ``value``."""
        q = self.quantiles(feature)
        if q is None:
            return None
        j = int(np.searchsorted(q, value, side="right"))  # grid points <= value
        return 0.0 if j >= len(q) else float(1.0 - QUANTILE_GRID[j])

    def adverse_share(self, feature: str, value: float, adverse: str) -> float | None:
        """For a value on the ``adverse`` side of the median (``high``: above it, ``low``:
        below it), the share of the population on the other side; None when it is not."""
        median = self.median(feature)
        if median is None or value != value:
            return None
        if adverse == "high" and value > median:
            return self.share_below(feature, value)
        if adverse == "low" and value < median:
            return self.share_above(feature, value)
        return None
