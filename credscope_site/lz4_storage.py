"""Large documents (JSON and bytes) compressed with lz4 instead of PostgreSQL's default pglz.

PostgreSQL compresses a value of a few kB before it stores it (TOAST). A batch chunk's COPY
of 500 decisions (~12 kB of reasons, contributions and feature row each) spent a third of its
server time in pglz; lz4 compresses several times faster and decompresses faster too, for
about the same size on these documents. The setting is per column and applies to values
written from then on (older ones stay readable as they are). SQLite has no such setting, and a
PostgreSQL built without lz4 keeps pglz: there the migration changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations


def lz4_compression(
    table: str, columns: Sequence[str], *, on_rollback: bool = False
) -> migrations.RunPython:
    """A migration operation that stores `table`'s `columns` with lz4 (and back with pglz).
    `on_rollback`: only when the migration is rolled back, for columns it removes and a
    rollback adds again (which PostgreSQL would create with its default, pglz)."""

    def compression(method: str):
        def apply(apps, schema_editor) -> None:
            connection = schema_editor.connection
            if connection.vendor != "postgresql" or not _has_lz4(connection):
                return
            quote = schema_editor.quote_name
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} "
                + ", ".join(f"ALTER COLUMN {quote(c)} SET COMPRESSION {method}" for c in columns)
            )

        return apply

    if on_rollback:
        return migrations.RunPython(migrations.RunPython.noop, compression("lz4"))
    return migrations.RunPython(compression("lz4"), compression("pglz"))


def _has_lz4(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])
