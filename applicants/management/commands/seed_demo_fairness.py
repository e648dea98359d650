"""`python manage.py seed_demo_fairness`: what the demo's fairness audit needs: a batch of
applicants, the officer's reviews of some referrals, and repayment outcomes."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from applicants.demo_fairness import DEMO_BATCH_ROWS, demo_fairness_seed
from applicants.services.batch_intake import BatchInvalid
from applicants.services.outcomes import OutcomeImportInvalid
from scoring.management.actors import actor_named
from scoring.registry import NoActiveModel


class Command(BaseCommand):
    help = (
        "Upload one demo batch of applicants (once), review some referrals as the officer, and "
        "record repaid/defaulted for the demo applications: from the data's labels where known, "
        "else drawn (fixed seed) from the generator's or the decision's default probability."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--officer", default="officer", help="the demo loan officer")
        parser.add_argument(
            "--recorder", default="compliance", help="who records the outcomes (compliance)"
        )
        parser.add_argument(
            "--reviewer", default=None, help="who reviews referrals (default: the officer)"
        )
        parser.add_argument("--rows", type=int, default=DEMO_BATCH_ROWS)
        parser.add_argument("--seed", type=int, default=11)

    def handle(
        self,
        *args,
        officer: str,
        recorder: str,
        reviewer: str | None,
        rows: int,
        seed: int,
        **options,
    ) -> None:
        try:
            report = demo_fairness_seed(
                officer=actor_named(officer),
                recorder=actor_named(recorder),
                reviewer=actor_named(reviewer),
                data_dir=Path(settings.CREDSCOPE_DATA_DIR),
                rows=rows,
                seed=seed,
            )
        except NoActiveModel as error:
            raise CommandError(f"{error} (make demo trains one before seeding)") from None
        except BatchInvalid as error:
            raise CommandError(f"demo batch refused: {error}") from None
        except OutcomeImportInvalid as error:
            raise CommandError("; ".join(str(e) for e in error.errors)) from None
        self.stdout.write(self.style.SUCCESS(f"demo fairness data: {report.describe()}"))
