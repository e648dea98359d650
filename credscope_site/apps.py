from django.apps import AppConfig


class CredscopeSiteConfig(AppConfig):
    """The project package as an app, so it can own the role migration and site commands."""

    name = "credscope_site"
    verbose_name = "CredScope site"

    def ready(self) -> None:
        from credscope_site import checks  # noqa: F401  (registers the system checks)
