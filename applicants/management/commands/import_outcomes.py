"""`python manage.py import_outcomes FILE.csv --user NAME`: record repaid/defaulted outcomes."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from applicants.services.outcomes import OutcomeImportInvalid, loan_outcomes_import
from scoring.management.actors import actor_named


class Command(BaseCommand):
    help = (
        "Record loan outcomes from a CSV with columns application_id (or external_id), "
        "outcome (repaid/defaulted) and observed_at (YYYY-MM-DD). All rows or none."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--user", required=True, help="compliance or model admin recorded as the importer"
        )

    def handle(self, *args, file: Path, user: str, **options) -> None:
        actor = actor_named(user)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: cannot read it ({error})") from None
        try:
            report = loan_outcomes_import(csv_text=text, filename=file.name, actor=actor)
        except OutcomeImportInvalid as error:
            lines = [f"{file}: {problem}" for problem in error.errors[:50]]
            if len(error.errors) > 50:
                lines.append(f"{file}: ... and {len(error.errors) - 50} more")
            lines.append(f"{file}: nothing was recorded")
            raise CommandError("\n".join(lines)) from None
        counts = ", ".join(f"{n} {k}" for k, n in sorted(report.by_outcome.items())) or "none new"
        self.stdout.write(
            self.style.SUCCESS(
                f"{file}: {report.recorded} outcome(s) recorded ({counts}), "
                f"{report.unchanged} already on record"
            )
        )
