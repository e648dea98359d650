"""The loan officer's pages: applications, the review queue and CSV batches (included at the
site root)."""

from django.urls import path

from applicants import batch_views, notice_views, views

app_name = "applicants"

urlpatterns = [
    path("applications/", views.application_list, name="list"),
    path("applications/new/", views.application_new, name="new"),
    path("applications/export.csv", views.application_export, name="export"),
    path("applications/<int:application_id>/", views.application_detail, name="detail"),
    path("applications/<int:application_id>/status/", views.application_status, name="status"),
    path(
        "applications/<int:application_id>/counteroffer/accept/",
        views.counteroffer_accept,
        name="counteroffer_accept",
    ),
    path(
        "applications/<int:application_id>/override/",
        views.application_override,
        name="override",
    ),
    path(
        "applications/<int:application_id>/adverse-action-notice/",
        notice_views.application_notice,
        {"fmt": "html"},
        name="notice",
    ),
    path(
        "applications/<int:application_id>/adverse-action-notice.pdf",
        notice_views.application_notice,
        {"fmt": "pdf"},
        name="notice_pdf",
    ),
    path(
        "batches/<int:batch_id>/adverse-action-notices.zip",
        notice_views.batch_notices,
        name="batch_notices",
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
