"""The new-audit form: a period, the protected attributes, and optional filters."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from applicants.models import LoanApplication
from audits.selectors import fairness_filter_choices


class FairnessAuditForm(forms.Form):
    date_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    attributes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    model_version = forms.ChoiceField(required=False, label="Model version")
    policy_version = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Policy version"
    )
    channel = forms.ChoiceField(required=False, label="Channel")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        attributes = settings.CREDSCOPE_FAIRNESS["attributes"]
        self.fields["attributes"].choices = [(k, v["label"]) for k, v in attributes.items()]
        self.fields["attributes"].initial = list(attributes)
        choices = fairness_filter_choices()
        self.fields["model_version"].choices = [("", "All")] + [
            (v, v) for v in choices["model_versions"]
        ]
        self.fields["policy_version"].choices = [("", "All")] + [
            (v, f"v{v}") for v in choices["policy_versions"]
        ]
        self.fields["channel"].choices = [("", "All"), *LoanApplication.Channel.choices]
        today = timezone.localdate()
        self.fields["date_from"].initial = today - timedelta(days=30)
        self.fields["date_to"].initial = today

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end of the period is before its start.")
        return cleaned
