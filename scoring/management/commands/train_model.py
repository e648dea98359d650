"""`python manage.py train_model --data DIR --profile fast|full [--trials N] [--activate]`.

Trains the stacked ensemble, writes a verified bundle under CREDSCOPE_MODEL_DIR, records it
as a candidate ModelVersion and, with --activate, makes it the active one. Progress goes to
stderr; the last line on stdout is one JSON object with the version and headline metrics.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from scoring import registry
from scoring.management.actors import actor_named
from scoring.ml.data.load import DataValidationError
from scoring.ml.training.pipeline import train_and_bundle
from scoring.ml.training.profiles import PROFILES


class Command(BaseCommand):
    help = "Train, calibrate and register a new model version (see docs/MODEL.md)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--data",
            type=Path,
            help="typed cache, Kaggle files or generator output (default: CREDSCOPE_DATA_DIR/"
            "cache)",
        )
        parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
        parser.add_argument(
            "--trials", type=int, default=0, help="Optuna trials per base model (0: none)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--out", type=Path, help="bundle folder (default: CREDSCOPE_MODEL_DIR)")
        parser.add_argument("--activate", action="store_true", help="make it the active version")
        parser.add_argument("--user", help="username recorded as the trainer in the audit trail")
        parser.add_argument(
            "--unless-active",
            action="store_true",
            help="do nothing when a version is already active (make demo's re-runs)",
        )

    def handle(self, *args, **options) -> None:
        if options["unless_active"] and (active := registry.active_model_version()):
            self.stdout.write(f"model version {active.version} is already active; not training")
            return
        data: Path = options["data"] or Path(settings.CREDSCOPE_DATA_DIR) / "cache"
        out: Path = options["out"] or Path(settings.CREDSCOPE_MODEL_DIR)
        if options["trials"] < 0:
            raise CommandError("--trials must be 0 or more")
        if not data.is_dir():
            raise CommandError(
                f"--data {data} is not a folder: run generate_homecredit or load_homecredit first"
            )
        user = actor_named(options["user"])
        try:
            registry.training_permission_check(actor=user)
        except PermissionDenied as error:
            raise CommandError(f"--user {options['user']}: {error}") from None
        try:
            result = train_and_bundle(
                data,
                out,
                profile=options["profile"],
                trials=options["trials"],
                seed=options["seed"],
                progress=self.stderr.write,
            )
        except (DataValidationError, FileNotFoundError, ValueError) as error:
            raise CommandError(str(error)) from None
        try:
            model_version = registry.model_version_register(
                bundle_path=result.bundle_path, profile=options["profile"], trained_by=user
            )
            if options["activate"]:
                registry.model_version_activate(version=model_version.version, actor=user)
        except (registry.RegistryError, PermissionDenied) as error:
            raise CommandError(str(error)) from None
        line = {**result.headline(), "activated": bool(options["activate"])}
        self.stdout.write(json.dumps(line, sort_keys=True))
