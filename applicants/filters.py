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
from scoring.models import Outcome


class ApplicationFilterForm(forms.Form):
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
        label="Submitted from", method="filter_date_from", help_text="inclusive"
    )
    date_to = django_filters.DateFilter(
        label="Submitted to", method="filter_date_to", help_text="inclusive"
    )

    class Meta:
        model = LoanApplication
        fields: list[str] = []
        form = ApplicationFilterForm

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        match = Q(applicant__full_name__icontains=value)
        if value.isdigit():
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
