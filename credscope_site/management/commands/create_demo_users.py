"""`python manage.py create_demo_users`: one user per role, passwords printed."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from credscope_site.demo import demo_users_ensure


class Command(BaseCommand):
    help = "Create or reset one demo user per role (development only) and print their passwords."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="create them even when DEBUG is off (never on a real deployment)",
        )

    def handle(self, *args, allow_production: bool = False, **options) -> None:
        if not settings.DEBUG and not allow_production:
            raise CommandError("demo users are for development: DEBUG is off (see --help)")
        accounts = demo_users_ensure(credentials_file=settings.VAR_DIR / "demo-credentials.json")
        self.stdout.write("Demo users (username / password / role):")
        for account in accounts:
            self.stdout.write(
                f"  {account.username:<12} {account.password:<14} {account.role.label}"
            )
