"""A fairness audit's snapshot as the pages, the PDF and the CSV show it.

The snapshot keeps figures keyed by group (JSON objects, whose key order PostgreSQL does not
keep); here they become ordered rows, with labels and verdict styles, in one place.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from audits.models import FairnessAudit
from scoring.ml.fairness import BASES, verdict_label

BASIS_LABELS = {"final": "Final decisions (after overrides)", "model": "Model decisions"}
DECISION_COLUMNS = (
    "n",
    "approved",
    "approval_rate",
    "refer_rate",
    "reject_rate",
    "mean_pd",
    "adverse_impact_ratio",
    "p_value",
    "test",
    "verdict",
)
OVERRIDE_COLUMNS = ("referred", "overridden", "override_rate", "up", "down", "up_share")
OUTCOME_COLUMNS = (
    "n",
    "defaulted",
    "tpr",
    "fpr",
    "precision",
    "observed_default_rate",
    "mean_pd",
    "calibration_gap",
)


def audit_view(audit: FairnessAudit) -> dict[str, Any]:
    """Everything the audit page and the PDF show, in display order."""
    if not audit.snapshot:
        return {"ready": False}
    figures = audit.snapshot["figures"]
    attributes = []
    # Settings order (the JSON column keeps no key order).
    names = [n for n in audit.snapshot["inputs"]["attributes"] if n in figures["attributes"]]
    for name in names:
        attribute = figures["attributes"][name]
        order = attribute.get("order", [])
        reference = attribute.get("reference")
        bases = []
        for basis in BASES:
            groups = attribute.get(basis, {}).get("groups", {})
            bases.append(
                {
                    "key": basis,
                    "label": BASIS_LABELS[basis],
                    "verdict": attribute.get(basis, {}).get("verdict", ""),
                    "verdict_label": verdict_label(attribute.get(basis, {}).get("verdict", "")),
                    "rows": [
                        {"group": g, "is_reference": g == reference, **_with_label(groups[g])}
                        for g in order
                        if g in groups
                    ],
                }
            )
        outcomes = attribute.get("outcomes", {})
        attributes.append(
            {
                "name": name,
                "label": attribute["label"],
                "reference": reference,
                "reference_source": attribute.get("reference_source"),
                "verdict": attribute["verdict"],
                "verdict_label": verdict_label(attribute["verdict"]),
                "bases": bases,
                "overrides": [
                    {"group": g, **attribute["overrides"][g]}
                    for g in order
                    if g in attribute.get("overrides", {})
                ],
                "outcomes": [
                    {
                        "key": basis,
                        "label": BASIS_LABELS[basis],
                        "n": outcomes.get(basis, {}).get("n", 0),
                        "differences": outcomes.get(basis, {}).get("differences", {}),
                        "rows": [
                            {"group": g, **outcomes[basis]["groups"][g]}
                            for g in order
                            if g in outcomes.get(basis, {}).get("groups", {})
                        ],
                    }
                    for basis in BASES
                ],
                "chart": chart_data(attribute),
                "chart_id": f"chart-data-{name}",
            }
        )
    return {
        "ready": True,
        "summary": figures["summary"],
        "totals": figures["totals"],
        "verdict": figures["verdict"],
        "verdict_label": verdict_label(figures["verdict"]),
        "attributes": attributes,
        "min_count": audit.snapshot["settings"]["min_count"],
        "ratio": audit.snapshot["settings"]["ratio"],
        "code_version": audit.snapshot["code_version"],
        "model_versions": audit.snapshot["model_versions"],
        "policy_versions": audit.snapshot["policy_versions"],
    }


def attribute_verdicts(audit: FairnessAudit) -> list[dict[str, str]]:
    """Each attribute's label and verdict, in the audit's order (lists and the dashboard)."""
    if not audit.snapshot:
        return []
    attributes = audit.snapshot["figures"]["attributes"]
    return [
        {"name": n, "label": attributes[n]["label"], "verdict": attributes[n]["verdict"]}
        for n in audit.snapshot["inputs"]["attributes"]
        if n in attributes
    ]


def chart_data(attribute: dict[str, Any]) -> dict[str, Any]:
    """Approval rate by group (final decisions), the reference and the four-fifths line."""
    groups = attribute.get("final", {}).get("groups", {})
    order = [g for g in attribute.get("order", []) if g in groups]
    reference = attribute.get("reference")
    ref_rate = groups[reference]["approval_rate"] if reference in groups else None
    return {
        "labels": order,
        "rates": [groups[g]["approval_rate"] for g in order],
        "verdicts": [groups[g]["verdict"] for g in order],
        "counts": [groups[g]["n"] for g in order],
        "reference": reference,
        "reference_rate": ref_rate,
        "threshold_rate": ref_rate * 0.8 if ref_rate is not None else None,
    }


def _with_label(figures: dict[str, Any]) -> dict[str, Any]:
    return {**figures, "verdict_label": verdict_label(figures.get("verdict", ""))}


# --- CSV -----------------------------------------------------------------------------------------


def figures_csv(audit: FairnessAudit) -> str:
    """Every figure of the audit, one per line: section, attribute, basis, group, metric, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["audit_id", "section", "attribute", "basis", "group", "metric", "value"])
    for row in _csv_rows(audit):
        writer.writerow([audit.pk, *row])
    return out.getvalue()


def _csv_rows(audit: FairnessAudit) -> Iterator[tuple]:
    snapshot = audit.snapshot or {}
    for key, value in snapshot.get("inputs", {}).items():
        yield ("input", "", "", "", key, _cell(value))
    for key in ("code_version", "method_version", "model_versions", "policy_versions"):
        yield ("input", "", "", "", key, _cell(snapshot.get(key)))
    yield ("input", "", "", "", "snapshot_sha256", audit.snapshot_sha256)
    figures = snapshot.get("figures", {})
    yield ("verdict", "", "", "", "verdict", figures.get("verdict", ""))
    for name, attribute in figures.get("attributes", {}).items():
        order = attribute.get("order", [])
        yield ("verdict", name, "", "", "verdict", attribute["verdict"])
        yield ("verdict", name, "", "", "reference", attribute.get("reference") or "")
        for basis in BASES:
            groups = attribute.get(basis, {}).get("groups", {})
            yield ("verdict", name, basis, "", "verdict", attribute.get(basis, {}).get("verdict"))
            for group in (g for g in order if g in groups):
                for metric in DECISION_COLUMNS:
                    yield ("decisions", name, basis, group, metric, _cell(groups[group][metric]))
        for group in (g for g in order if g in attribute.get("overrides", {})):
            for metric in OVERRIDE_COLUMNS:
                value = attribute["overrides"][group][metric]
                yield ("overrides", name, "", group, metric, _cell(value))
        for basis, outcomes in attribute.get("outcomes", {}).items():
            for group in (g for g in order if g in outcomes.get("groups", {})):
                for metric in OUTCOME_COLUMNS:
                    value = outcomes["groups"][group][metric]
                    yield ("outcomes", name, basis, group, metric, _cell(value))
            for metric, value in outcomes.get("differences", {}).items():
                yield ("outcomes", name, basis, "", f"{metric}_difference", _cell(value))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)
