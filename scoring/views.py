"""Model registry pages: model admins compare, promote and challenge versions; compliance
reads. Promotion and rollback go through a confirmation page with a written reason."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from credscope_site.roles import Perm
from scoring import oversight, registry
from scoring.model_report import METRIC_HELP, comparison_rows, model_report
from scoring.models import DecisionPolicy, ModelVersion


def _policy() -> DecisionPolicy | None:
    return DecisionPolicy.objects.order_by("-version").first()


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
            **model_report(model_version, _policy()),
            "age_rule": (model_version.metrics or {}).get("age_rule") or None,
            "help": METRIC_HELP,
            "can_activate": request.user.has_perm(Perm.ACTIVATE_MODEL),
        },
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=registry.MAX_REASON,
        strip=True,
        help_text="Why this version should decide from now on. Recorded in the audit trail.",
        error_messages={"required": "Write the reason for this change; it is audited."},
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ACTIVATE_MODEL, raise_exception=True)
def model_activate(request: HttpRequest, version: str) -> HttpResponse:
    """GET: the candidate and the active version side by side, and the reason form.
    POST: activate (or roll back) with the reason."""
    candidate = get_object_or_404(ModelVersion, version=version)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registry.model_version_activate(
                version=version, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except registry.RegistryError as error:
            form.add_error("reason" if isinstance(error, registry.ReasonRequired) else None,
                           str(error))  # fmt: skip
        else:
            messages.success(request, f"Model {version} is now active.")
            return redirect("models:detail", version=version)
    active = registry.active_model_version()
    policy = _policy()
    candidate_report = model_report(candidate, policy)
    active_report = model_report(active, policy) if active else None
    context = {
        "candidate": candidate_report,
        "active": active_report,
        "rows": comparison_rows(candidate_report, active_report),
        "policy": policy,
        "form": form,
        "help": METRIC_HELP,
        "rollback": candidate.status == ModelVersion.Status.RETIRED,
        # Shown when the candidate has shadow-scored live decisions (now or earlier).
        "comparison": oversight.challenger_comparison(model_version=candidate),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "scoring/models/activate.html", context, status=status)


@require_POST
@permission_required(Perm.ACTIVATE_MODEL, raise_exception=True)
def challenger_set(request: HttpRequest, version: str) -> HttpResponse:
    try:
        registry.model_version_challenger_set(version=version, actor=request.user)
    except (registry.RegistryError, PermissionDenied) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Model {version} now challenges every live decision.")
    return redirect("models:detail", version=version)


@require_POST
@permission_required(Perm.ACTIVATE_MODEL, raise_exception=True)
def challenger_clear(request: HttpRequest, version: str) -> HttpResponse:
    try:
        registry.model_version_challenger_clear(version=version, actor=request.user)
    except (registry.RegistryError, PermissionDenied) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Model {version} no longer challenges live decisions.")
    return redirect("models:detail", version=version)
