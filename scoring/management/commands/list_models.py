"""`python manage.py list_models`: versions, newest first, with their headline metrics."""

from django.core.management.base import BaseCommand

from scoring.models import ModelVersion


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class Command(BaseCommand):
    help = "List model versions with status and headline metrics."

    def handle(self, *args, **options) -> None:
        versions = ModelVersion.objects.select_related("trained_by", "activated_by")
        if not versions.exists():
            self.stdout.write("no model versions yet: run train_model")
            return
        header = (
            f"{'version':<34} {'status':<9} {'profile':<7} {'features':>8} "
            f"{'AUC':>7} {'Gini':>7} {'KS':>7} {'Brier':>7} {'oracle':>7}  trained"
        )
        self.stdout.write(header)
        for model in versions:
            self.stdout.write(
                f"{model.version:<34} {model.status:<9} {model.profile:<7} "
                f"{model.feature_count:>8} {_figure(model.auc):>7} {_figure(model.gini):>7} "
                f"{_figure(model.ks):>7} {_figure(model.brier):>7} {_figure(model.oracle_auc):>7}  "
                f"{model.trained_at:%Y-%m-%d %H:%M}"
            )
