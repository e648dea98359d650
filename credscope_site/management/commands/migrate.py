"""`manage.py migrate`, connected as the schema's owner when DATABASE_URL_MIGRATE is set.

The web and worker processes connect (DATABASE_URL) as a role that may not alter tables nor
change the audit trail; only migrations need the owner. Swapping the credentials of the
`default` connection, rather than adding a second alias, keeps every migration step (data
migrations, permissions, content types) on the one connection and in its transaction.
"""

from typing import Any

from django.conf import settings
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections


class Command(migrate.Command):
    help = (
        migrate.Command.help
        + " Connects as the owner in DATABASE_URL_MIGRATE when it is set (docs/AUDIT.md)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = settings.MIGRATION_DATABASE
        if owner and options["database"] == DEFAULT_DB_ALIAS:
            connection = connections[DEFAULT_DB_ALIAS]
            connection.close()
            connection.settings_dict.update(USER=owner["USER"], PASSWORD=owner["PASSWORD"])
            if options["verbosity"] >= 1:
                self.stdout.write(f"Migrating as the owner role {owner['USER']!r}")
        super().handle(*args, **options)
