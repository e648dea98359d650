"""Probabilities and log-odds: the two scales every part of the ML core speaks."""

from __future__ import annotations

import numpy as np

EPSILON = 1e-15


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Probability from log-odds."""
    z = np.asarray(z, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z))


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds from a probability (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))
