"""`python manage.py seed_demo_applications`: scored demo applications for the demo officer."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from applicants.demo import demo_applications_seed
from scoring.registry import NoActiveModel


class Command(BaseCommand):
    help = "Submit a few dozen applications for a loan officer, covering every outcome."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--username", default="officer", help="the loan officer (default: officer)"
        )
        parser.add_argument("--count", type=int, default=36)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, username: str, count: int, seed: int, **options) -> None:
        officer = get_user_model().objects.filter(username=username).first()
        if officer is None:
            raise CommandError(f"no user named {username!r} (run create_demo_users first)")
        if count < 1:
            raise CommandError("--count must be at least 1")
        try:
            report = demo_applications_seed(
                officer=officer,
                count=count,
                data_dir=Path(settings.CREDSCOPE_DATA_DIR),
                seed=seed,
            )
        except NoActiveModel as error:
            raise CommandError(f"{error} (make demo trains one before seeding)") from None
        outcomes = ", ".join(f"{n} {k.lower()}" for k, n in sorted(report.by_outcome.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"demo applications for {username}: {report.created} new, {report.existing} "
                f"already there ({outcomes}); from {report.source}"
            )
        )
