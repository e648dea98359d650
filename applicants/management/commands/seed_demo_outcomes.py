"""`python manage.py seed_demo_outcomes`: repayment outcomes for the demo's applications."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from applicants.demo_outcomes import demo_outcomes_seed
from applicants.outcomes import OutcomeImportInvalid
from scoring.management.actors import actor_named


class Command(BaseCommand):
    help = (
        "Record repaid/defaulted for each seeded demo application without an outcome: from "
        "the data's labels where known, else drawn (fixed seed) from the default probability."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--username", default="compliance", help="who records them (default: compliance)"
        )
        parser.add_argument("--seed", type=int, default=11)

    def handle(self, *args, username: str, seed: int, **options) -> None:
        recorder = actor_named(username)
        try:
            report = demo_outcomes_seed(
                recorder=recorder, data_dir=Path(settings.CREDSCOPE_DATA_DIR), seed=seed
            )
        except OutcomeImportInvalid as error:
            raise CommandError("; ".join(str(e) for e in error.errors)) from None
        recorded = report.imported.recorded if report.imported else 0
        self.stdout.write(
            self.style.SUCCESS(f"demo outcomes: {recorded} recorded ({report.describe()})")
        )
