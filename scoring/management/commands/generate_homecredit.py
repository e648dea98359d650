"""`python manage.py generate_homecredit --scale S --seed N --out DIR [--format parquet|csv]`:
synthetic Home Credit tables with a known default probability (oracle)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scoring.ml.synth.generate import generate


class Command(BaseCommand):
    help = (
        "Write the eight Home Credit tables in the Kaggle schema (scale 1.0 = Kaggle's size), "
        "plus oracle/oracle.parquet with each client's true default probability."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 307,511 applicants")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, required=True, help="output folder")
        parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")

    def handle(self, *args, scale: float, seed: int, out: Path, **options) -> None:
        try:
            summary = generate(out, scale, seed, options["format"], progress=self.stderr.write)
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(summary.render())
