"""The loan officer's pages (included at the site root)."""

from django.urls import path

from applicants import views

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
]
