from django.apps import AppConfig


class AuditsConfig(AppConfig):
    """The tamper-evident audit trail, fairness audits and compliance pages."""

    name = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        # Django announces logins and logouts only through signals; the receivers just record.
        # Register the tasks with the Celery app in every process, so services can send
        # them by name (in-process runs included) without importing the tasks module.
        from audits import (
            auth_events,  # noqa: F401
            tasks,  # noqa: F401
        )
