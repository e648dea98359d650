from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

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
    path("admin/", admin.site.urls),
]
