"""`python manage.py verify_audit_trail`: exit 0 on an intact chain, 1 naming the first break."""

from django.core.management.base import BaseCommand, CommandError

from audits import trail


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain and name the first broken event, if any."

    def handle(self, *args, **options) -> None:
        result = trail.verify()
        if not result.intact:
            raise CommandError(
                f"audit trail BROKEN after {result.checked - 1} intact event(s): "
                f"{result.first_break}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail intact: {result.checked} event(s), head {result.head_hash[:16]}"
            )
        )
