"""`python manage.py verify_audit_trail`: exit 0 on an intact chain, 1 naming the first break.

The chain is checked under the configured keys and against every checkpoint, so a removed
tail is named by the range a checkpoint recorded.
"""

from django.core.management.base import BaseCommand, CommandError

from audits import trail


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's keyed hash chain, hold it against every checkpoint, and "
        "name the first broken event or the missing range, if any."
    )

    def handle(self, *args, **options) -> None:
        result = trail.verify()
        if result.first_break is not None:
            raise CommandError(
                f"audit trail BROKEN after {result.checked - 1} intact event(s): "
                f"{result.first_break}"
            )
        if result.checkpoint_problem is not None:
            raise CommandError(f"audit trail BROKEN: {result.checkpoint_problem}")
        reached = (
            f", checkpoint {result.checkpoint_reached}"
            if result.checkpoint_reached
            else ", no checkpoint yet"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail intact: {result.checked} event(s){reached}, "
                f"head {result.head_hash[:16]}"
            )
        )
        if result.head_unkeyed:
            self.stdout.write(
                self.style.WARNING(
                    "the newest event is not under the current key: run manage.py audit_rekey"
                )
            )
