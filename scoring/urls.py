from django.urls import path

from scoring import oversight_views, views

app_name = "models"

urlpatterns = [
    path("", views.model_list, name="list"),
    # Fixed names before the version pattern, which would match them too.
    path("policy/", oversight_views.policy_page, name="policy"),
    path("oversight/", oversight_views.oversight_page, name="oversight"),
    path("oversight/drift/", oversight_views.drift_compute, name="drift_compute"),
    path("<str:version>/", views.model_detail, name="detail"),
    path("<str:version>/activate/", views.model_activate, name="activate"),
    path("<str:version>/challenger/", oversight_views.challenger_page, name="challenger"),
    path("<str:version>/challenger/set/", views.challenger_set, name="challenger_set"),
    path("<str:version>/challenger/clear/", views.challenger_clear, name="challenger_clear"),
]
