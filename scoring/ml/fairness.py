"""Fair-lending audit maths: pure functions over a frame of decisions, no Django.

One implementation for every fairness verdict: the compliance audits of live decisions
(`audits.fairness_services`), and the model pages, which run the same audit on a version's
held-out rows, on replayed decisions or on a challenger's shadow outcomes (`scoring.fairness`).

The frame (built by `audits.selectors.fairness_decision_frame`) has one row per decision:

    model_outcome    APPROVE / REFER / REJECT, what the policy made of the model's PD
    final_outcome    the same after an officer's override of a REFER (APPROVE / REFER / REJECT)
    override         APPROVE / REJECT where an officer overrode, else None
    pd               the probability of default
    loan_outcome     "repaid" / "defaulted" where the outcome has been recorded, else None
    plus one column per protected attribute's source (see `AttributeSpec`)

Definitions, stated once:
- approval rate: the share of a group's decisions that are APPROVE;
- adverse-impact ratio: a group's approval rate over the reference group's; the four-fifths
  rule flags a ratio below 0.8;
- significance: two-sided Fisher's exact test on the 2x2 table (approved / not, group /
  reference), or the pooled two-proportion z-test once both groups are large;
- outcome metrics take "repaid" as the favourable truth and APPROVE as the favourable
  decision: TPR = P(approved | repaid) (equal opportunity), FPR = P(approved | defaulted)
  (with TPR: equalized odds), precision = P(repaid | approved) (predictive parity).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

APPROVE, REFER, REJECT = "APPROVE", "REFER", "REJECT"
REPAID, DEFAULTED = "repaid", "defaulted"
NOT_STATED = "Not stated"

# Verdicts of a group and of an attribute, worst last.
PASS, REVIEW, FAIL = "pass", "review", "fail"
TOO_FEW, REFERENCE = "too_few", "reference"
VERDICT_ORDER = {PASS: 0, REVIEW: 1, FAIL: 2}
VERDICT_LABELS = {
    PASS: "Pass",
    REVIEW: "Review",
    FAIL: "Fail",
    TOO_FEW: "Too few to judge",
    REFERENCE: "Reference group",
}
BASES = ("final", "model")  # final: after officers' overrides; model: the policy's outcome


def verdict_label(verdict: str) -> str:
    """A verdict as pages and reports name it (an unknown one title-cased, none blank)."""
    return VERDICT_LABELS.get(verdict, verdict.title())


@dataclass(frozen=True)
class AttributeSpec:
    """One protected attribute: where its value comes from and how it is grouped.

    `source` is a column of the decision frame. With `bands`, the source is an age in years
    and is cut at those boundaries (lower bound included). `reference` pins the reference
    group; None means the most favoured group (highest approval rate among those large
    enough to judge).
    """

    name: str
    label: str
    source: str
    bands: tuple[int, ...] = ()
    reference: str | None = None
    value_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    min_count: int = 30
    ratio: float = 0.8
    alpha: float = 0.05
    # Fisher's exact test below this many decisions in the two groups together, z-test above.
    exact_test_below: int = 2000
    # An outcome-metric gap between groups above this is called out in the summary.
    outcome_gap_note: float = 0.1


# --- groups --------------------------------------------------------------------------------------


def band_labels(bands: Sequence[int]) -> list[str]:
    """Labels of the bands cut at `bands`: [25, 35] -> ["<25", "25-34", "35+"]."""
    labels = [f"<{bands[0]}"]
    labels += [f"{low}-{high - 1}" for low, high in itertools.pairwise(bands)]
    labels.append(f"{bands[-1]}+")
    return labels


def group_labels(frame: pd.DataFrame, spec: AttributeSpec) -> pd.Series:
    """Each decision's group for `spec`, as strings; missing values are "Not stated"."""
    values = frame[spec.source]
    if spec.bands:
        years = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        index = np.searchsorted(np.asarray(spec.bands, dtype=float), years, side="right")
        labels = np.asarray(band_labels(spec.bands), dtype=object)[np.clip(index, 0, None)]
        labels = np.where(np.isnan(years), NOT_STATED, labels)
        return pd.Series(labels, index=frame.index, dtype=object)
    # Label each distinct value once, then spread the labels over the rows.
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    labels = np.array(
        [NOT_STATED if v in (None, "") else str(spec.value_labels.get(v, v)) for v in uniques]
        + [NOT_STATED],
        dtype=object,
    )
    return pd.Series(labels[codes], index=frame.index, dtype=object)


def group_order(groups: Iterable[str], spec: AttributeSpec) -> list[str]:
    """Bands in age order, other values alphabetically; "Not stated" last."""
    present = set(groups)
    if spec.bands:
        ordered = [label for label in band_labels(spec.bands) if label in present]
    else:
        ordered = sorted(present - {NOT_STATED})
    return ordered + ([NOT_STATED] if NOT_STATED in present else [])


# --- significance --------------------------------------------------------------------------------


def approval_difference_test(
    approved_a: int, n_a: int, approved_b: int, n_b: int, *, exact_test_below: int
) -> tuple[float, str]:
    """Two-sided p-value that groups a and b share one approval rate, and the test used."""
    if n_a == 0 or n_b == 0:
        return 1.0, "none"
    if n_a + n_b < exact_test_below:
        table = [[approved_a, n_a - approved_a], [approved_b, n_b - approved_b]]
        return float(stats.fisher_exact(table, alternative="two-sided").pvalue), "fisher"
    pooled = (approved_a + approved_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0, "z"
    z = (approved_a / n_a - approved_b / n_b) / se
    return float(2 * stats.norm.sf(abs(z))), "z"


# --- decision metrics ----------------------------------------------------------------------------


def outcome_counts(groups: pd.Series, outcomes: pd.Series, pds: pd.Series) -> pd.DataFrame:
    """Per group: n, approved, referred, rejected and mean PD (one counting pass each)."""
    codes, names, n = _group_codes(groups)
    values = outcomes.to_numpy()
    counts = pd.DataFrame(
        {
            "n": n,
            "approved": _count(codes, values == APPROVE, len(names)),
            "referred": _count(codes, values == REFER, len(names)),
            "rejected": _count(codes, values == REJECT, len(names)),
        },
        index=pd.Index(names, dtype=object),
    )
    pd_sums = np.bincount(codes, weights=pds.to_numpy(dtype=float), minlength=len(names))
    counts["mean_pd"] = pd_sums / np.maximum(n, 1)
    return counts


def _group_codes(groups: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's group as an integer code, the groups' names, and their sizes."""
    codes, names = pd.factorize(groups.to_numpy(), sort=False)
    return codes, np.asarray(names, dtype=object), np.bincount(codes, minlength=len(names))


def _count(codes: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes, weights=np.asarray(mask, dtype=float), minlength=size).astype(int)


def choose_reference(counts: pd.DataFrame, spec: AttributeSpec, min_count: int) -> tuple[str, str]:
    """The reference group and why it was chosen ("settings" or "most favoured")."""
    if spec.reference is not None and spec.reference in counts.index:
        return spec.reference, "settings"
    judged = counts[counts["n"] >= min_count]
    pool = judged if not judged.empty else counts
    rates = pool["approved"] / pool["n"]
    # Ties go to the larger group: its rate is the more certain one.
    best = max(pool.index, key=lambda g: (rates[g], pool.at[g, "n"], g))
    return str(best), "most favoured"


def decision_metrics(
    counts: pd.DataFrame, order: Sequence[str], reference: str, thresholds: Thresholds
) -> dict[str, dict[str, Any]]:
    """Each group's rates, adverse-impact ratio against `reference`, p-value and verdict."""
    ref_n = int(counts.at[reference, "n"]) if reference in counts.index else 0
    ref_approved = int(counts.at[reference, "approved"]) if ref_n else 0
    ref_rate = ref_approved / ref_n if ref_n else 0.0
    out: dict[str, dict[str, Any]] = {}
    for group in order:
        row = counts.loc[group]
        n, approved = int(row["n"]), int(row["approved"])
        rate = approved / n if n else 0.0
        figures: dict[str, Any] = {
            "n": n,
            "approved": approved,
            "approval_rate": rate,
            "refer_rate": int(row["referred"]) / n if n else 0.0,
            "reject_rate": int(row["rejected"]) / n if n else 0.0,
            "mean_pd": _finite(row["mean_pd"]),
            "small": n < thresholds.min_count,
        }
        if group == reference:
            figures.update(adverse_impact_ratio=1.0, p_value=None, test=None, verdict=REFERENCE)
        else:
            ratio = rate / ref_rate if ref_rate > 0 else None
            p_value, test = approval_difference_test(
                approved, n, ref_approved, ref_n, exact_test_below=thresholds.exact_test_below
            )
            figures.update(
                adverse_impact_ratio=ratio,
                p_value=p_value,
                test=test,
                verdict=group_verdict(n, ref_n, ratio, p_value, thresholds),
            )
        out[group] = figures
    return out


def group_verdict(
    n: int, ref_n: int, ratio: float | None, p_value: float, thresholds: Thresholds
) -> str:
    """pass at a ratio of 0.8 or more; fail below it when significant; review otherwise.

    A group (or reference) under the minimum count gets no verdict: "too few to judge".
    """
    if n < thresholds.min_count or ref_n < thresholds.min_count:
        return TOO_FEW
    if ratio is None or ratio >= thresholds.ratio:  # None: the reference approved nobody
        return PASS
    return FAIL if p_value < thresholds.alpha else REVIEW


def attribute_verdict(groups: Mapping[str, Mapping[str, Any]], thresholds: Thresholds) -> str:
    """fail if any group fails; review if any is under review, or is too small to judge while
    its ratio is below 0.8, or nothing could be judged at all; pass otherwise."""
    verdicts = [figures["verdict"] for figures in groups.values()]
    if FAIL in verdicts:
        return FAIL
    if REVIEW in verdicts:
        return REVIEW
    small_and_low = any(
        figures["verdict"] == TOO_FEW
        and figures["adverse_impact_ratio"] is not None
        and figures["adverse_impact_ratio"] < thresholds.ratio
        for figures in groups.values()
    )
    if small_and_low or PASS not in verdicts:
        return REVIEW
    return PASS


def worst(verdicts: Iterable[str]) -> str:
    return max(verdicts, key=lambda v: VERDICT_ORDER.get(v, 0), default=PASS)


# --- overrides -----------------------------------------------------------------------------------


def override_metrics(
    groups: pd.Series, model_outcomes: pd.Series, overrides: pd.Series, order: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per group: referred decisions, how many an officer overrode, and in which direction
    (up = approved a REFER, down = rejected it)."""
    codes, names, _ = _group_codes(groups)
    chosen = overrides.to_numpy()
    sums = pd.DataFrame(
        {
            "referred": _count(codes, model_outcomes.to_numpy() == REFER, len(names)),
            "up": _count(codes, chosen == APPROVE, len(names)),
            "down": _count(codes, chosen == REJECT, len(names)),
        },
        index=pd.Index(names, dtype=object),
    )
    out = {}
    for group in order:
        referred, up, down = (int(sums.at[group, c]) for c in ("referred", "up", "down"))
        overridden = up + down
        out[group] = {
            "referred": referred,
            "overridden": overridden,
            "override_rate": overridden / referred if referred else None,
            "up": up,
            "down": down,
            "up_share": up / overridden if overridden else None,
        }
    return out


# --- outcome metrics (as fairlearn defines them) -------------------------------------------------


def outcome_metrics(
    groups: np.ndarray,
    repaid: np.ndarray,
    approved: np.ndarray,
    pds: np.ndarray,
    *,
    order: Sequence[str],
    thresholds: Thresholds,
) -> dict[str, Any]:
    """TPR, FPR, precision and calibration by group.

    `repaid` and `approved` are 0/1 arrays over decisions whose outcome is recorded. The
    differences (equal opportunity, equalized odds, predictive parity) are taken between the
    groups with at least `min_count` recorded outcomes, as fairlearn's `between_groups`.

    Both arrays are 0/1, so each group's figures are ratios of four counts (the confusion
    matrix), counted once with numpy: the same numbers fairlearn's MetricFrame gives (a test
    holds them to it) without its per-group DataFrame machinery, which cost seconds per audit.
    """
    groups = np.asarray(groups, dtype=object)
    repaid = np.asarray(repaid, dtype=bool)
    approved = np.asarray(approved, dtype=bool)
    pds = np.asarray(pds, dtype=float)
    if len(groups) == 0:
        return {"n": 0, "groups": {}, "differences": {}}
    codes, names = pd.factorize(groups)
    size = len(names)
    n = np.bincount(codes, minlength=size)
    repaid_n = np.bincount(codes, weights=repaid, minlength=size)
    approved_repaid = np.bincount(codes, weights=approved & repaid, minlength=size)
    approved_defaulted = np.bincount(codes, weights=approved & ~repaid, minlength=size)
    pd_sum = np.bincount(codes, weights=pds, minlength=size)
    index = {str(name): i for i, name in enumerate(names)}
    out_groups: dict[str, dict[str, Any]] = {}
    for group in order:
        i = index.get(group)
        if i is None:
            continue
        count, good = int(n[i]), float(repaid_n[i])
        bad = count - good
        approved_count = approved_repaid[i] + approved_defaulted[i]
        observed = bad / count
        mean_pd = float(pd_sum[i]) / count
        out_groups[group] = {
            "n": count,
            "defaulted": int(bad),
            "tpr": _ratio(approved_repaid[i], good),
            "fpr": _ratio(approved_defaulted[i], bad),
            "precision": _ratio(approved_repaid[i], approved_count),
            "observed_default_rate": observed,
            "mean_pd": mean_pd,
            "calibration_gap": observed - mean_pd,
            "small": count < thresholds.min_count,
        }
    judged = [g for g, figures in out_groups.items() if not figures["small"]]
    differences = {
        "equal_opportunity": _spread(out_groups, judged, "tpr"),
        "false_positive_rate": _spread(out_groups, judged, "fpr"),
        "predictive_parity": _spread(out_groups, judged, "precision"),
    }
    tpr_gap, fpr_gap = differences["equal_opportunity"], differences["false_positive_rate"]
    differences["equalized_odds"] = (
        max(tpr_gap, fpr_gap) if tpr_gap is not None and fpr_gap is not None else None
    )
    return {
        "n": len(groups),
        "groups": out_groups,
        "differences": differences,
        "judged_groups": judged,
    }


def _ratio(part: float, whole: float) -> float | None:
    """part / whole, or None (no figure, not zero) where the whole is empty: a group with
    no approvals has no precision, one with no defaulters no FPR."""
    return float(part) / float(whole) if whole else None


def _spread(groups: Mapping[str, Mapping[str, Any]], judged: Sequence[str], key: str):
    values = [groups[g][key] for g in judged if groups[g][key] is not None]
    return max(values) - min(values) if len(values) >= 2 else None


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# --- the whole audit -----------------------------------------------------------------------------


def audit_compute(
    frame: pd.DataFrame, specs: Sequence[AttributeSpec], thresholds: Thresholds
) -> dict[str, Any]:
    """Every figure of an audit over `frame`, as plain JSON-ready values (the words that
    go with them: `audits.fairness_summary`)."""
    attributes = {spec.name: attribute_compute(frame, spec, thresholds) for spec in specs}
    recorded = frame["loan_outcome"].isin([REPAID, DEFAULTED])
    totals = {
        "decisions": len(frame),
        "by_outcome": {
            basis: {o: int(frame[f"{basis}_outcome"].eq(o).sum()) for o in (APPROVE, REFER, REJECT)}
            for basis in BASES
        },
        "overridden": int(frame["override"].isin([APPROVE, REJECT]).sum()),
        "outcomes_recorded": int(recorded.sum()),
        "defaulted": int(frame["loan_outcome"].eq(DEFAULTED).sum()),
    }
    figures = {"totals": totals, "attributes": attributes}
    figures["verdict"] = worst(a["verdict"] for a in attributes.values()) if attributes else PASS
    return figures


def attribute_compute(
    frame: pd.DataFrame, spec: AttributeSpec, thresholds: Thresholds
) -> dict[str, Any]:
    groups = group_labels(frame, spec)
    order = group_order(groups.unique(), spec)
    result: dict[str, Any] = {"label": spec.label, "groups": {}, "order": order}
    if not order:
        result.update(reference=None, reference_source=None, verdict=REVIEW, model={}, final={})
        result.update(overrides={}, outcomes={})
        return result
    per_basis = {
        basis: outcome_counts(groups, frame[f"{basis}_outcome"], frame["pd"]) for basis in BASES
    }
    reference, source = choose_reference(per_basis["final"], spec, thresholds.min_count)
    result.update(reference=reference, reference_source=source)
    for basis in BASES:
        metrics = decision_metrics(per_basis[basis], order, reference, thresholds)
        result[basis] = {"groups": metrics, "verdict": attribute_verdict(metrics, thresholds)}
    result["groups"] = result["final"]["groups"]
    result["verdict"] = worst([result["final"]["verdict"], result["model"]["verdict"]])
    result["overrides"] = override_metrics(groups, frame["model_outcome"], frame["override"], order)
    recorded = frame["loan_outcome"].isin([REPAID, DEFAULTED]).to_numpy()
    repaid = frame["loan_outcome"].eq(REPAID).to_numpy()[recorded]
    result["outcomes"] = {
        basis: outcome_metrics(
            groups.to_numpy()[recorded],
            repaid,
            frame[f"{basis}_outcome"].eq(APPROVE).to_numpy()[recorded],
            frame["pd"].to_numpy(dtype=float)[recorded],
            order=order,
            thresholds=thresholds,
        )
        for basis in BASES
    }
    return result
