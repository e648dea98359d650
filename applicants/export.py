"""The applications list as CSV: the rows a reader sees under their filters, one per line.

The queryset comes from the list's own FilterSet over `selectors.application_list_for`, so
an officer exports only their own applications and compliance every officer's, filtered and
sorted as on the page. Amounts stay plain numbers (with the currency in its own column) so a
spreadsheet can sum them; times are ISO 8601 in the configured zone.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from applicants.models import LoanApplication

EXPORT_COLUMNS = (
    "application_id",
    "submitted_at",
    "applicant",
    "SK_ID_CURR",
    "officer",
    "channel",
    "status",
    "currency",
    "AMT_CREDIT",
    "AMT_INCOME_TOTAL",
    "AMT_ANNUITY",
    "outcome",
    "probability_of_default",
    "risk_band",
    "reviewer_outcome",
    "model_version",
    "policy_version",
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def application_export_rows(applications: QuerySet[LoanApplication]) -> Iterator[list[str]]:
    """The header, then one line per application, in the queryset's order."""
    yield list(EXPORT_COLUMNS)
    rows = applications.select_related(
        "applicant",
        "created_by",
        "decision",
        "decision__override",
        "decision__model_version",
        "decision__policy",
    )
    for application in rows.iterator(chunk_size=1000):
        decision = getattr(application, "decision", None)
        override = getattr(decision, "override", None) if decision else None
        yield [
            str(application.pk),
            timezone.localtime(application.submitted_at).isoformat(timespec="seconds"),
            _text(application.applicant.full_name),
            _plain(application.applicant.external_id),
            _text(application.created_by.get_username()),
            application.channel,
            application.status,
            settings.CREDSCOPE_CURRENCY,
            _plain(application.amt_credit),
            _plain(application.amt_income_total),
            _plain(application.amt_annuity),
            decision.outcome if decision else "",
            f"{decision.probability_of_default:.6f}" if decision else "",
            decision.risk_band if decision else "",
            override.outcome if override else "",
            decision.model_version.version if decision else "",
            str(decision.policy.version) if decision else "",
        ]


def _plain(value: object) -> str:
    return "" if value is None else str(value)


def _text(value: str) -> str:
    """Free text a person typed, made inert for spreadsheets."""
    return "'" + value if value.startswith(_FORMULA_START) else value
