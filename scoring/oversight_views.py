"""Oversight pages for model admins (compliance reads): challenger comparison, the decision
policy with its what-if preview, and the drift and expected-performance overview."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from credscope_site.roles import Perm
from scoring import challenger as challengers
from scoring import drift, oversight, policy, registry
from scoring.ml.monitoring import PSI_ACT, PSI_WATCH
from scoring.models import DecisionPolicy, DriftReport, ModelVersion

PERIODS = {"7": 7, "30": 30, "90": 90, "all": None}


@permission_required(Perm.VIEW_MODELS, raise_exception=True)
def challenger_page(request: HttpRequest, version: str) -> HttpResponse:
    model_version = get_object_or_404(ModelVersion, version=version)
    period = request.GET.get("days", "30")
    if period not in PERIODS:
        period = "30"
    days = PERIODS[period]
    since = timezone.now() - timedelta(days=days) if days else None
    comparison = oversight.challenger_comparison(model_version=model_version, since=since)
    return render(
        request,
        "scoring/models/challenger.html",
        {
            "model": model_version,
            "comparison": comparison,
            "period": period,
            "periods": list(PERIODS),
            "champion": registry.active_model_version(),
        },
    )


@permission_required(Perm.VIEW_MODELS, raise_exception=True)
def oversight_page(request: HttpRequest) -> HttpResponse:
    return render(request, "scoring/oversight.html", oversight_summary())


@require_POST
@permission_required(Perm.VIEW_MODELS, raise_exception=True)
def drift_compute(request: HttpRequest) -> HttpResponse:
    """Compute the active model's drift report now (beside the weekly one), then show it."""
    report = drift.drift_report_record(trigger=DriftReport.Trigger.ON_DEMAND, actor=request.user)
    if report is None:
        messages.error(request, "There is no active model: nothing to check for drift.")
    else:
        messages.success(request, f"Drift computed over {report.rows} decisions.")
    return redirect("models:oversight")


def oversight_summary() -> dict:
    """The model admin's overview: champion, challenger and agreement, the newest stored
    drift report (weekly, or computed on demand), training."""
    champion = registry.active_model_version()
    challenger = challengers.challenger_model_version()
    stored = drift.latest_drift_report(model_version=champion)
    return {
        "champion": champion,
        "challenger": challenger,
        "comparison": (
            oversight.challenger_comparison(model_version=challenger) if challenger else None
        ),
        "drift": stored.report if stored else None,
        "drift_report": stored,
        "last_trained": ModelVersion.objects.order_by("-trained_at").first(),
        "psi_watch": PSI_WATCH,
        "psi_act": PSI_ACT,
    }


class PolicyForm(forms.Form):
    """Thresholds as percentages (what a person reads), stored as probabilities."""

    very_low_below = forms.FloatField(label="Very low risk below (%)")
    low_below = forms.FloatField(label="Low risk below (%)")
    medium_below = forms.FloatField(label="Medium risk below (%)")
    high_below = forms.FloatField(label="High risk below (%)")
    approve_below = forms.FloatField(label="Approve below (%)")
    reject_at_or_above = forms.FloatField(label="Reject from (%)")
    note = forms.CharField(label="Why this change", max_length=300, required=False)
    last = forms.IntegerField(
        label="Preview on the last N decisions",
        min_value=1,
        max_value=100_000,
        initial=oversight.PREVIEW_DEFAULT,
        required=False,
    )

    def clean(self) -> dict:
        data = super().clean()
        values = {
            name: data[name] / 100 for name in policy.THRESHOLD_FIELDS if data.get(name) is not None
        }
        if len(values) == len(policy.THRESHOLD_FIELDS):
            for name, message in policy.threshold_errors(values).items():
                self.add_error(name, message.replace("probability", "percentage"))
        data["thresholds"] = values
        return data

    @classmethod
    def initial_from(cls, current: DecisionPolicy) -> dict:
        return {
            name: round(getattr(current, name) * 100, 3) for name in policy.THRESHOLD_FIELDS
        } | {"last": oversight.PREVIEW_DEFAULT}


class _Values:
    def __init__(self, values: dict[str, float]) -> None:
        self.__dict__.update(values)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.VIEW_POLICY, raise_exception=True)
def policy_page(request: HttpRequest) -> HttpResponse:
    """The policy in force, a form to edit it with a preview of its effect, and saving."""
    current = policy.current_policy()
    can_change = request.user.has_perm(Perm.CHANGE_POLICY)
    data = request.POST if request.method == "POST" else (request.GET or None)
    form = PolicyForm(data, initial=PolicyForm.initial_from(current))
    preview = None
    if data is not None and form.is_valid():
        thresholds = _Values(form.cleaned_data["thresholds"])
        preview = oversight.policy_preview(
            thresholds=thresholds, last=form.cleaned_data.get("last") or oversight.PREVIEW_DEFAULT
        )
        if request.method == "POST" and "save" in request.POST:
            if not can_change:
                raise PermissionDenied("only model admins may change the decision policy")
            try:
                created = policy.policy_create(
                    actor=request.user,
                    note=form.cleaned_data.get("note", ""),
                    **form.cleaned_data["thresholds"],
                )
            except policy.PolicyInvalid as error:
                for name, message in error.errors.items():
                    form.add_error(name if name in form.fields else None, message)
            else:
                messages.success(request, f"Policy v{created.version} is now in force.")
                return redirect("models:policy")
    return render(
        request,
        "scoring/policy.html",
        {
            "current": current,
            "history": DecisionPolicy.objects.select_related("created_by")[:10],
            "form": form,
            "preview": preview,
            "can_change": can_change,
        },
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )
