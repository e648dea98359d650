from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from credscope_site import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("health/", views.health_view, name="health"),
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
    # The REST API and its Swagger UI (assets from drf-spectacular-sidecar, served locally).
    path("api/v1/", include(("credscope_site.api_urls", "api"), namespace="api")),
    path(
        "api/docs/",
        login_not_required(SpectacularSwaggerView.as_view(url_name="api:schema")),
        name="api-docs",
    ),
]
