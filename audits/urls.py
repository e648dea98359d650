from django.urls import path

from audits import views

app_name = "audits"

urlpatterns = [
    path("", views.AuditTrailView.as_view(), name="trail"),
]
