from django.urls import path

from audits import views

app_name = "audits"

urlpatterns = [
    path("", views.AuditTrailView.as_view(), name="trail"),
    path("export.csv", views.trail_csv, name="export"),
    path("verify/", views.verify_chain, name="verify"),
]
