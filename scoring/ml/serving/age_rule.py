"""The age rule of US Regulation B (12 CFR 1002.6(b)(2)(ii)).

An empirically derived credit system may use age only if the age of an applicant aged 62 or
over is never assigned a negative value. Here: for such an applicant, the summed SHAP
contribution of the ``age`` family (every feature built from the date of birth) must never
raise the risk. When it would, the amount is taken off the logit, and an explicit item
``AGE_RULE_62_PLUS`` of family ``age`` records it, so the explanation still adds up and the
age family sums to exactly zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scoring.ml.features.families import AGE_RULE_YEARS, BY_CODE

#: The explanation item that records what the rule took off.
AGE_RULE_ITEM = "AGE_RULE_62_PLUS"
AGE_KEY = BY_CODE["AGE"].key
_YEAR_DAYS = 365.25


def ages_in_years(feature_names: Sequence[str], X: np.ndarray) -> np.ndarray | None:
    """Each row's age from the model matrix (AGE_YEARS, else DAYS_BIRTH); None when the
    model reads neither (then it cannot use age at all)."""
    names = list(feature_names)
    X = np.atleast_2d(X)
    if "AGE_YEARS" in names:
        return X[:, names.index("AGE_YEARS")].astype(np.float64)
    if "DAYS_BIRTH" in names:
        return -X[:, names.index("DAYS_BIRTH")].astype(np.float64) / _YEAR_DAYS
    return None


def rule_applies(ages: np.ndarray | None) -> bool:
    """Whether any of these rows is of an applicant the rule covers (62 or over): when none
    is, `neutralised_amounts` is zero for every row, whatever the contributions."""
    return ages is not None and bool(_covered(ages).any())


def _covered(ages: np.ndarray) -> np.ndarray:
    return np.nan_to_num(ages, nan=0.0) >= AGE_RULE_YEARS


def neutralised_amounts(
    group_sums: np.ndarray, group_families: Sequence[str | None], ages: np.ndarray | None
) -> np.ndarray:
    """Per row, how much the age family raised the logit of an applicant aged 62+ (else 0).

    ``group_sums`` is (rows, groups) of contributions, ``group_families`` each group's key.
    """
    group_sums = np.atleast_2d(group_sums)
    if ages is None:
        return np.zeros(group_sums.shape[0])
    mask = np.array([family == AGE_KEY for family in group_families], dtype=bool)
    if not mask.any():
        return np.zeros(group_sums.shape[0])
    # Summed one after another along each row (cumsum), not pairwise: `sum(axis=1)` orders
    # the additions by the matrix's shape, and a decision's row explained again alone
    # must give back the very amount it got in its batch.
    age_total = np.cumsum(group_sums[:, mask], axis=1)[:, -1]
    return np.where(_covered(ages) & (age_total > 0), age_total, 0.0)
