"""The applications list's filters, one `FilterSet` shared by the page and the REST API.

Both doors take the same parameters (`status`, `outcome`, `date_from`, `date_to`, `search`)
with the same validation; they filter a queryset the reader may already see
(`selectors.application_list_for`), so a filter never widens what anyone sees.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from applicants.models import LoanApplication
from credscope_site.validators import BIGINT_MAX, search_problem
from scoring.models import Outcome

# Sort keys -> the column they order by (the same on the page, the export and the API).
SORT_FIELDS = {
    "submitted_at": "submitted",
    "applicant__full_name": "name",
    "amt_credit": "credit",
    "decision__probability_of_default": "pd",
    "id": "id",
}
SORT_CHOICES = (
    ("submitted", "Oldest first"),
    ("-pd", "Highest PD first"),
    ("pd", "Lowest PD first"),
    ("-credit", "Largest credit first"),
    ("credit", "Smallest credit first"),
    ("name", "Applicant A\u2013Z"),
    ("-name", "Applicant Z\u2013A"),
    ("-submitted", "Newest first"),
    ("id", "Application # ascending"),
    ("-id", "Application # descending"),
)


# The browser's date picker on the page; the value travels as YYYY-MM-DD either way.
_DAY = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _Sort(django_filters.OrderingFilter):
    """Choices worded for people ("Highest PD first"), not "PD (descending)"."""

    def build_choices(self, fields: dict[str, str], labels: dict[str, str]) -> list:
        return list(SORT_CHOICES)

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        qs = super().filter(qs, value)
        # A stable order for equal keys (many PDs tie), so pages never repeat or skip a row.
        return qs.order_by(*qs.query.order_by, "-id") if value else qs


class ApplicationFilterForm(forms.Form):
    def clean_search(self) -> str:
        term = self.cleaned_data.get("search") or ""
        problem = search_problem(term)
        if problem:
            raise forms.ValidationError(f"The search {problem}.")
        return term

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "must not be before date_from")
        return data


class ApplicationFilter(django_filters.FilterSet):
    """`outcome` filters on the model's decision; `date_from`/`date_to` are inclusive days
    of submission in the site's time zone; `search` matches the applicant's name, the
    application id or the applicant's known external id."""

    search = django_filters.CharFilter(
        label="Search", method="filter_search", max_length=200, help_text="name or id"
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=LoanApplication.Status.choices, empty_label="Any status"
    )
    outcome = django_filters.ChoiceFilter(
        label="Outcome",
        field_name="decision__outcome",
        choices=Outcome.choices,
        empty_label="Any outcome",
    )
    date_from = django_filters.DateFilter(
        label="Submitted from", method="filter_date_from", help_text="inclusive", widget=_DAY
    )
    date_to = django_filters.DateFilter(
        label="Submitted to", method="filter_date_to", help_text="inclusive", widget=_DAY
    )
    # `sort=pd` or `sort=-pd` (descending); unset keeps the newest first.
    sort = _Sort(label="Sort by", fields=SORT_FIELDS, empty_label="Newest first")

    class Meta:
        model = LoanApplication
        fields: list[str] = []
        form = ApplicationFilterForm

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        match = Q(applicant__full_name__icontains=value)
        # An id only when it is one: ASCII digits within bigint ('²'.isdigit() is True and
        # int('²') raises; the form refuses such terms with a message first).
        if value.isascii() and value.isdecimal() and int(value) <= BIGINT_MAX:
            match |= Q(pk=int(value)) | Q(applicant__external_id=int(value))
        return queryset.filter(match)

    def filter_date_from(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(submitted_at__gte=_start_of(value))

    def filter_date_to(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(submitted_at__lt=_start_of(value) + timedelta(days=1))

    @property
    def active(self) -> bool:
        """Whether any filter narrows the list (the page offers to clear them)."""
        return self.is_bound and self.is_valid() and any(self.form.cleaned_data.values())


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
