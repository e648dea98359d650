"""`python manage.py audit_rekey`: seal the chain under the current AUDIT_CHAIN_KEY.

Run it after rotating the key (the new one in AUDIT_CHAIN_KEY, the old one moved to
AUDIT_CHAIN_RETIRED_KEYS): the `audit.rekeyed` event records the head it seals.
"""

from django.core.management.base import BaseCommand

from audits import trail
from scoring.management.actors import actor_named


class Command(BaseCommand):
    help = "Append an audit.rekeyed event if the chain's head is not under the current key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", help="username recorded as the actor (default: system)")

    def handle(self, *args, **options) -> None:
        event = trail.chain_rekey(actor=actor_named(options["user"]))
        if event is None:
            self.stdout.write("the chain's head is already under the current key; nothing to do")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"re-keyed: event {event.sequence} seals sequence "
                f"{event.payload['sealed_sequence']} under key {event.key_id}"
            )
        )
