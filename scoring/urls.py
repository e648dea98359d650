from django.urls import path

from scoring import views

app_name = "models"

urlpatterns = [
    path("", views.model_list, name="list"),
    path("<str:version>/", views.model_detail, name="detail"),
    path("<str:version>/activate/", views.model_activate, name="activate"),
]
