"""`python manage.py activate_model VERSION`: the single active version (also a rollback)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from scoring import registry


class Command(BaseCommand):
    help = "Verify a model bundle's checksums and make it the single active version."

    def add_arguments(self, parser) -> None:
        parser.add_argument("version")
        parser.add_argument("--user", help="username recorded as the activator in the audit trail")

    def handle(self, *args, version: str, user: str | None, **options) -> None:
        actor = _user_or_error(user)
        try:
            model_version = registry.model_version_activate(version=version, actor=actor)
        except registry.RegistryError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"active model version: {model_version.version}"))


def _user_or_error(username: str | None):
    if username is None:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user
