"""The loan officer's pages: applications, the review queue and CSV batches (included at the
site root)."""

from django.urls import path

from applicants import batch_views, views

app_name = "applicants"

urlpatterns = [
    path("applications/", views.application_list, name="list"),
    path("applications/new/", views.application_new, name="new"),
    path("applications/<int:application_id>/", views.application_detail, name="detail"),
    path("applications/<int:application_id>/status/", views.application_status, name="status"),
    path(
        "applications/<int:application_id>/override/",
        views.application_override,
        name="override",
    ),
    path("review/", views.review_queue, name="review"),
    path("review/report/", views.override_report, name="override_report"),
    path("batches/", batch_views.batch_list, name="batch_list"),
    path("batches/new/", batch_views.batch_new, name="batch_new"),
    path("batches/template.csv", batch_views.batch_template, name="batch_template"),
    path("batches/<int:batch_id>/", batch_views.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/status/", batch_views.batch_status, name="batch_status"),
    path("batches/<int:batch_id>/results.csv", batch_views.batch_results, name="batch_results"),
]
