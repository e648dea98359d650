from django.urls import path

from scoring import model_views

app_name = "models"

urlpatterns = [
    path("", model_views.model_list, name="list"),
    path("<str:version>/", model_views.model_detail, name="detail"),
    path("<str:version>/activate/", model_views.model_activate, name="activate"),
]
