"""`python manage.py load_homecredit --source DIR [--out DIR]`: validate the Kaggle files and
write the typed Parquet cache that training reads."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scoring.ml.data.load import build_cache


class Command(BaseCommand):
    help = (
        "Validate the eight Home Credit tables in --source (CSV, .csv.gz, .zip or Parquet) "
        "and write the typed Parquet cache to --out. Exits non-zero, writing nothing, on errors."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", required=True, type=Path, help="folder of Kaggle files")
        parser.add_argument(
            "--out", type=Path, help="cache folder (default: CREDSCOPE_DATA_DIR/cache)"
        )

    def handle(self, *args, source: Path, out: Path | None, **options) -> None:
        out = out or Path(settings.CREDSCOPE_DATA_DIR) / "cache"
        if not source.is_dir():
            raise CommandError(f"--source {source} is not a folder")
        try:
            report = build_cache(source, out, progress=self._progress)
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(report.render())
        if not report.ok:
            first = report.errors[0]
            more = len(report.errors) - 1
            raise CommandError(
                f"validation failed: {first}"
                + (f" (and {more} more error(s) above)" if more else "")
            )
        self.stdout.write(self.style.SUCCESS(f"cache written to {out}"))

    def _progress(self, message: str) -> None:
        self.stderr.write(message)
