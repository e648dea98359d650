from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from credscope_site import views
from credscope_site.metrics import metrics_view

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("health/", views.health_view, name="health"),
    # Browsers and tools ask for /favicon.ico whatever the page links; answer with the icon.
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", metrics_view, name="metrics"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", include("audits.urls")),
    path("compliance/fairness/", include("audits.fairness_urls")),
    path("", include("applicants.urls")),
    path("models/", include("scoring.urls")),
    path("admin/", admin.site.urls),
    # The REST API and its Swagger UI (assets from drf-spectacular-sidecar, served locally;
    # the split view serves its start-up script as a file, so the CSP needs no inline script).
    path("api/v1/", include(("credscope_site.api_urls", "api"), namespace="api")),
    path(
        "api/docs/",
        login_not_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="api:schema", template_name="api_docs.html"
            )
        ),
        name="api-docs",
    ),
]

handler404 = "credscope_site.views.not_found"
handler500 = "credscope_site.views.server_error"
