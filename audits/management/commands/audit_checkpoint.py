"""`python manage.py audit_checkpoint`: write the chain's head to every checkpoint sink now."""

from django.core.management.base import BaseCommand

from audits import checkpoints


class Command(BaseCommand):
    help = "Write a signed checkpoint of the audit chain's head to every configured sink."

    def handle(self, *args, **options) -> None:
        written = checkpoints.checkpoint_write(force=True)
        if not written:
            self.stdout.write("the audit trail is empty; no checkpoint written")
        for checkpoint in written:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{checkpoint.label}: sequence {checkpoint.sequence}, "
                    f"head {checkpoint.hash[:16]}"
                )
            )
