"""Site-wide pages: the dashboard and the health probe."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from applicants.selectors import officer_dashboard
from audits.selectors import fairness_audit_latest_for, latest_verification_run
from credscope_site import health
from credscope_site.navigation import items_for
from credscope_site.roles import Perm, roles_of
from scoring.oversight_views import oversight_summary


def dashboard(request: HttpRequest) -> HttpResponse:
    areas = [item for item in items_for(request.user) if item["url_name"] != "dashboard"]
    return render(
        request,
        "dashboard.html",
        {
            "areas": areas,
            "roles": roles_of(request.user),
            "applications": officer_dashboard(user=request.user),
            # The model admin's tiles: champion, challenger, drift, last training.
            "oversight": (
                oversight_summary() if request.user.has_perm(Perm.ACTIVATE_MODEL) else None
            ),
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


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Resolved per request: the hashed name exists only once collectstatic has run.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL no route matches: the API's JSON error under /api/, the page elsewhere
    (an id that is not a number, /api/v1/applications/-1/, never reaches a DRF view)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal error; it was logged."}, status=500)
    return defaults.server_error(request)
