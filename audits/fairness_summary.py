"""The plain one-paragraph summary of a fairness audit's figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.ml.fairness import FAIL, REVIEW, TOO_FEW, VERDICT_LABELS, Thresholds

MAX_FINDINGS = 2  # per attribute; the tables hold the rest


def audit_summary(figures: Mapping[str, Any], thresholds: Thresholds, order: list[str]) -> str:
    """What was looked at, what failed or needs review and why, in `order` of attributes."""
    totals = figures["totals"]
    if totals["decisions"] == 0:
        return "There were no decisions in this period, so there is nothing to judge."
    sentences = [
        f"{totals['decisions']:,} decisions were audited, {totals['overridden']:,} of them "
        f"decided by an officer on review, and {totals['outcomes_recorded']:,} with a recorded "
        "repayment outcome."
    ]
    attributes = figures["attributes"]
    sentences += [_attribute_sentence(attributes[n], thresholds) for n in order if n in attributes]
    sentences.append(_outcome_sentence(attributes, order, totals, thresholds))
    return " ".join(s for s in sentences if s)


def _attribute_sentence(attribute: Mapping[str, Any], thresholds: Thresholds) -> str:
    label, reference = attribute["label"], attribute["reference"]
    if reference is None:
        return f"{label}: no decisions to compare."
    findings = _findings(attribute, "final", "")
    if attribute["model"]["verdict"] != attribute["final"]["verdict"]:
        findings += _findings(attribute, "model", "in the model's own decisions ")
    findings.sort(key=lambda f: f[0])
    shown = findings[:MAX_FINDINGS]
    named = {f[2] for f in shown}
    small = [
        g
        for g, figures in attribute["groups"].items()
        if figures["verdict"] == TOO_FEW and g not in named
    ]
    text = f"{label} ({VERDICT_LABELS[attribute['verdict']].lower()}): "
    if findings:
        text += "; ".join(f[1] for f in shown)
        text += (
            f", and {len(findings) - MAX_FINDINGS} more." if len(findings) > MAX_FINDINGS else "."
        )
    else:
        text += (
            f"every group judged was approved at {thresholds.ratio:.0%} or more of the rate of "
            f"{reference}, the reference group."
        )
    if small:
        text += f" {'Also too' if findings else 'Too'} few decisions to judge: {', '.join(small)}."
    return text


def _findings(attribute: Mapping[str, Any], basis: str, wording: str) -> list[tuple]:
    """(rank, text, group) of each group that fails, needs review, or is small with a low ratio."""
    out = []
    reference = attribute["reference"]
    for group, figures in attribute[basis]["groups"].items():
        ratio, verdict = figures["adverse_impact_ratio"], figures["verdict"]
        if verdict in (FAIL, REVIEW):
            significance = "significant" if verdict == FAIL else "not significant"
            out.append(
                (
                    (0 if verdict == FAIL else 1, ratio),
                    f"{wording}{group} was approved at {ratio:.2f} times the rate of {reference} "
                    f"(p {_p(figures['p_value'])}, {significance})",
                    group,
                )
            )
        elif verdict == TOO_FEW and ratio is not None and ratio < 0.8:
            out.append(
                (
                    (2, ratio),
                    f"{wording}{group} had a ratio of {ratio:.2f} on only {figures['n']} "
                    "decisions, too few to judge",
                    group,
                )
            )
    return out


def _outcome_sentence(
    attributes: Mapping[str, Any],
    order: list[str],
    totals: Mapping[str, Any],
    thresholds: Thresholds,
) -> str:
    if totals["outcomes_recorded"] == 0:
        return "No repayment outcomes are recorded yet, so error rates by group are not measured."
    gaps = [
        (
            attributes[n]["outcomes"]["final"]["differences"].get("equalized_odds"),
            attributes[n]["label"],
        )
        for n in order
        if n in attributes and attributes[n].get("outcomes")
    ]
    gaps = [(gap, label) for gap, label in gaps if gap is not None]
    if not gaps:
        return "Too few recorded outcomes per group to compare error rates."
    gap, label = max(gaps)
    if gap <= thresholds.outcome_gap_note:
        return (
            "Among recorded outcomes, approval of repayers and of defaulters differs by at "
            f"most {gap:.2f} between groups."
        )
    return (
        f"Among recorded outcomes, the largest gap is by {label.lower()}: approval of "
        f"repayers or of defaulters differs by {gap:.2f} between groups "
        "(equalized odds difference)."
    )


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"
