"""`python manage.py activate_model VERSION`: the single active version (also a rollback)."""

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from scoring import registry
from scoring.management.actors import actor_named


class Command(BaseCommand):
    help = "Verify a model bundle's checksums and make it the single active version."

    def add_arguments(self, parser) -> None:
        parser.add_argument("version")
        parser.add_argument("--user", help="username recorded as the activator in the audit trail")

    def handle(self, *args, version: str, user: str | None, **options) -> None:
        actor = actor_named(user)
        try:
            model_version = registry.model_version_activate(version=version, actor=actor)
        except (registry.RegistryError, PermissionDenied) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"active model version: {model_version.version}"))
