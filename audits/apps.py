from django.apps import AppConfig


class AuditsConfig(AppConfig):
    """The tamper-evident audit trail, fairness audits and compliance pages."""

    name = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        # Django announces logins and logouts only through signals; the receivers just record.
        from audits import auth_events  # noqa: F401
