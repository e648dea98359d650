from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Model versions, decisions and the Celery tasks that score applications."""

    name = "scoring"
    verbose_name = "Scoring"
