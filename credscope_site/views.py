"""Site-wide pages: the dashboard and the health probe."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from applicants.selectors import officer_dashboard
from audits.selectors import fairness_audit_latest_for, latest_verification_run
from credscope_site import health
from credscope_site.navigation import items_for
from credscope_site.roles import Perm, roles_of


def dashboard(request: HttpRequest) -> HttpResponse:
    areas = [item for item in items_for(request.user) if item["url_name"] != "dashboard"]
    return render(
        request,
        "dashboard.html",
        {
            "areas": areas,
            "roles": roles_of(request.user),
            "applications": officer_dashboard(user=request.user),
            "latest_run": latest_verification_run(user=request.user),
            "can_read_trail": request.user.has_perm(Perm.VIEW_AUDIT_TRAIL),
            "show_fairness": request.user.has_perm(Perm.VIEW_FAIRNESS_AUDITS),
            "fairness_latest": fairness_audit_latest_for(user=request.user),
        },
    )


@login_not_required
@never_cache
@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    report = health.check()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
