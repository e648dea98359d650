from django.apps import AppConfig


class ApplicantsConfig(AppConfig):
    """Applicants and their loan applications: intake, officer pages and API."""

    name = "applicants"
    verbose_name = "Applicants"
