"""The batch pages (included at the site root)."""

from django.urls import path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("batches/", views.batch_list, name="batch_list"),
    path("batches/new/", views.batch_new, name="batch_new"),
    path("batches/template.csv", views.batch_template, name="batch_template"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/status/", views.batch_status, name="batch_status"),
    path("batches/<int:batch_id>/results.csv", views.batch_results, name="batch_results"),
]
