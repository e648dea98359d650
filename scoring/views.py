"""Model registry pages: model admins compare and activate versions; compliance reads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from credscope_site.roles import Perm
from scoring import registry
from scoring.models import ModelVersion


@permission_required(Perm.VIEW_MODELS, raise_exception=True)
def model_list(request: HttpRequest) -> HttpResponse:
    versions = ModelVersion.objects.select_related("trained_by", "activated_by")
    return render(
        request,
        "scoring/models/list.html",
        {"versions": versions, "can_activate": request.user.has_perm(Perm.ACTIVATE_MODEL)},
    )


@permission_required(Perm.VIEW_MODELS, raise_exception=True)
def model_detail(request: HttpRequest, version: str) -> HttpResponse:
    model_version = get_object_or_404(ModelVersion, version=version)
    return render(
        request,
        "scoring/models/detail.html",
        {
            "model": model_version,
            **metrics_for_display(model_version.metrics or {}),
            "can_activate": request.user.has_perm(Perm.ACTIVATE_MODEL),
        },
    )


def metrics_for_display(metrics: dict) -> dict:
    """Held-out figures per base model and for the served (calibrated) ensemble, its
    calibration by decile, the top features and the fairness tables of metrics.json."""
    rows = [
        {"name": name, **figures.get("holdout", {})}
        for name, figures in (metrics.get("base_models") or {}).items()
    ]
    ensemble = (metrics.get("ensemble") or {}).get("holdout_calibrated")
    if ensemble:
        rows.append({"name": "ensemble (calibrated)", **ensemble})
    fairness = metrics.get("fairness") or {}
    attributes = {
        name: value
        for name, value in fairness.items()
        if isinstance(value, dict) and "groups" in value
    }
    importance = (metrics.get("ensemble") or {}).get("importance")
    return {
        "metric_rows": rows,
        "calibration": (ensemble or {}).get("calibration", []),
        "fairness_attributes": attributes,
        "fairness_threshold": fairness.get("threshold"),
        "importance": (importance or {}).get("top", [])[:15],
    }


@require_POST
@permission_required(Perm.ACTIVATE_MODEL, raise_exception=True)
def model_activate(request: HttpRequest, version: str) -> HttpResponse:
    try:
        registry.model_version_activate(version=version, actor=request.user)
    except registry.RegistryError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Model {version} is now active.")
    return redirect("models:list")
