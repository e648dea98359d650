"""The fairness audit's PDF report: the page's figures, charts drawn by matplotlib on the
server, and the sign-off, rendered by WeasyPrint."""

from __future__ import annotations

import base64
import io
from typing import Any

from django.template.loader import render_to_string

from audits.fairness_presentation import audit_view
from audits.models import FairnessAudit

VERDICT_COLOURS = {
    "pass": "#1e7b4f",
    "review": "#b26a00",
    "fail": "#b3261e",
    "too_few": "#9aa4b2",
    "reference": "#0f4c81",
}


def approval_chart_png(chart: dict[str, Any]) -> str:
    """Approval rate by group as a PNG data URI, the reference and the 80% line marked."""
    # matplotlib is heavy and only the PDF needs it; the Agg backend needs no display.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # heavy, as above
    from matplotlib.ticker import PercentFormatter  # heavy, as above

    labels = [
        f"{label} (n={n})" + (" ★" if label == chart["reference"] else "")
        for label, n in zip(chart["labels"], chart["counts"], strict=True)
    ]
    height = 0.5 + 0.42 * max(len(labels), 1)
    figure, axis = plt.subplots(figsize=(6.6, height), dpi=150)
    try:
        colours = [VERDICT_COLOURS.get(v, "#5b6675") for v in chart["verdicts"]]
        axis.barh(range(len(labels)), chart["rates"], color=colours, height=0.6)
        axis.set_yticks(range(len(labels)), labels, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0, 1)
        axis.set_xlabel("Approval rate (final decisions)", fontsize=8)
        axis.tick_params(axis="x", labelsize=8)
        axis.xaxis.set_major_formatter(PercentFormatter(xmax=1))
        if chart["threshold_rate"] is not None:
            axis.axvline(chart["threshold_rate"], color="#b3261e", linestyle="--", linewidth=1)
            axis.axvline(chart["reference_rate"], color="#0f4c81", linestyle=":", linewidth=1)
            axis.text(
                chart["threshold_rate"],
                -0.7,
                " 80% of reference",
                color="#b3261e",
                fontsize=7,
                va="bottom",
            )
        for index, rate in enumerate(chart["rates"]):
            axis.text(min(rate + 0.01, 0.93), index, f"{rate:.0%}", va="center", fontsize=7)
        axis.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def report_pdf(audit: FairnessAudit) -> bytes:
    """The audit as a PDF (A4): summary, charts, every table and the sign-off."""
    # WeasyPrint loads Pango through cffi at import; only the report needs it.
    from weasyprint import HTML

    view = audit_view(audit)
    for attribute in view.get("attributes", []):
        attribute["chart_png"] = approval_chart_png(attribute["chart"])
    html = render_to_string("audits/fairness_report.html", {"audit": audit, "view": view})
    return HTML(string=html).write_pdf()
