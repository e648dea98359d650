"""The audit trail's filters (django-filter), shared by the page and its CSV export."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from audits.actions import AuditAction
from audits.models import AuditEvent

#: What a target filter can name, with the words an investigator uses.
TARGET_TYPES = [
    ("applicants.loanapplication", "Application"),
    ("scoring.batchjob", "Batch"),
    ("scoring.modelversion", "Model"),
    ("scoring.decisionpolicy", "Decision policy"),
    ("auth.user", "User"),
    ("audits.chainverificationrun", "Chain verification"),
]


class _FilterForm(forms.Form):
    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


class AuditEventFilter(django_filters.FilterSet):
    """Date range (whole days in the configured time zone), actor, action and target."""

    date_from = django_filters.DateFilter(
        label="From", method="filter_date_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        label="To", method="filter_date_to", widget=forms.DateInput(attrs={"type": "date"})
    )
    actor = django_filters.CharFilter(
        label="Actor",
        field_name="actor_name",
        lookup_expr="iexact",
        widget=forms.TextInput(attrs={"placeholder": "username"}),
    )
    action = django_filters.ChoiceFilter(
        label="Action", choices=AuditAction.choices, empty_label="All actions"
    )
    target_type = django_filters.ChoiceFilter(
        label="Target", choices=TARGET_TYPES, empty_label="Any target"
    )
    target_id = django_filters.CharFilter(
        label="Target #",
        widget=forms.TextInput(attrs={"placeholder": "e.g. 88", "inputmode": "numeric"}),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = _FilterForm

    def filter_date_from(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(occurred_at__gte=_start_of(value))

    def filter_date_to(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(occurred_at__lt=_start_of(value + timedelta(days=1)))

    @property
    def active(self) -> bool:
        return any(self.data.get(name) for name in self.filters)


def _start_of(day: date) -> datetime:
    """Midnight of `day` in the configured time zone, so a day means the investigator's day."""
    return timezone.make_aware(datetime.combine(day, time.min))
