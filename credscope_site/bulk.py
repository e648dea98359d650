"""Inserting thousands of rows at once: PostgreSQL's COPY, with the ids known in advance.

A CSV batch saves 10,000 applicants, applications and audit events, and each chunk of it 500
decisions with hundreds of contributions apiece. Through `bulk_create` each row becomes a
VALUES tuple of bound parameters, and the Python around that (Django's SQL compiler, psycopg
rewriting 65,535 placeholders a statement) and the server's parsing of it took 52 s of the
108 s a 10,000-row upload took (load average 13). COPY streams the rows instead (psycopg
formats them in C), after one statement reserves their ids from the table's own sequence, so
each object comes back with its primary key exactly as from `bulk_create`.

Values go through the fields' own `pre_save` and `get_db_prep_save` (auto_now_add times, JSON
adaptation, decimals), as in `bulk_create`. Other databases (SQLite in development and
tests), and inserts too small to gain from it, use `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db import connections, models

from credscope_site.fields import bulk_batch_size

ModelT = TypeVar("ModelT", bound=models.Model)

#: Below this, one multi-row INSERT is cheaper than reserving ids and a COPY (two statements).
COPY_FROM_ROWS = 100


def bulk_insert(
    model: type[ModelT], objects: Iterable[ModelT], *, using: str = "default"
) -> list[ModelT]:
    """Insert `objects` (unsaved instances of `model`) in order and return them with their
    primary keys set, like `model.objects.bulk_create(objects)`."""
    objects = list(objects)
    connection = connections[using]
    if connection.vendor != "postgresql" or len(objects) < COPY_FROM_ROWS:
        return model._default_manager.using(using).bulk_create(
            objects, batch_size=bulk_batch_size(model)
        )
    meta = model._meta
    pk = meta.pk
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in (pk, *fields))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(objects)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        # The driver's own cursor: Django's wrapper has no COPY.
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj, pk_value in zip(objects, ids, strict=True):
                obj._prepare_related_fields_for_save(operation_name="bulk_insert")
                setattr(obj, pk.attname, pk_value)
                copy.write_row(
                    [
                        pk_value,
                        *(
                            field.get_db_prep_save(field.pre_save(obj, True), connection)
                            for field in fields
                        ),
                    ]
                )
    for obj in objects:
        obj._state.adding = False
        obj._state.db = using
    return objects
