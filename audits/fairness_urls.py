from django.urls import path

from audits import fairness_views as views

app_name = "fairness"

urlpatterns = [
    path("", views.FairnessAuditListView.as_view(), name="list"),
    path("new/", views.fairness_audit_new, name="new"),
    path("<int:audit_id>/", views.fairness_audit_detail, name="detail"),
    path("<int:audit_id>/sign-off/", views.fairness_audit_sign_off_view, name="sign_off"),
    path("<int:audit_id>/report.pdf", views.fairness_audit_pdf, name="pdf"),
    path("<int:audit_id>/figures.csv", views.fairness_audit_csv, name="csv"),
    path("<int:audit_id>/status/", views.fairness_audit_status, name="status"),
]
