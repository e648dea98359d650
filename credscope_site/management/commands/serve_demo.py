"""`python manage.py serve_demo [ADDR:PORT]`: runserver that ends its banner with how to sign in.

`make demo` runs it last, so the last lines a newcomer reads are the address and where the
demo users' passwords are, not a wall of set-up output.
"""

from __future__ import annotations

from django.conf import settings
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as RunserverCommand,
)


class Command(RunserverCommand):
    help = "Serve the demo portal (runserver) and say where it is and how to sign in."

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        credentials = settings.VAR_DIR / "demo-credentials.json"
        try:
            shown = credentials.relative_to(settings.BASE_DIR)
        except ValueError:
            shown = credentials
        self.stdout.write(
            self.style.SUCCESS(f"\nCredScope is at http://{self.addr}:{server_port}/")
            + "\nSign in as officer, compliance or modeladmin; their passwords are in "
            f"{shown} (printed above too; `manage.py create_demo_users` shows them again).\n"
        )
