"""Inserting thousands of rows at once: PostgreSQL's COPY, with the ids known in advance.

A CSV batch saves 10,000 applicants, applications and audit events, and each chunk of it 500
decisions with hundreds of contributions apiece. Through `bulk_create` each row becomes a
VALUES tuple of bound parameters, and the Python around that (Django's SQL compiler, psycopg
rewriting 65,535 placeholders a statement) and the server's parsing of it took 52 s of the
108 s a 10,000-row upload took (load average 13). COPY streams the rows instead (psycopg
formats them in C), after one statement reserves their ids from the table's own sequence, so
each object comes back with its primary key exactly as from `bulk_create`.

Values go through the fields' own `pre_save` and `get_db_prep_save` (auto_now_add times, JSON
adaptation, decimals), as in `bulk_create`, except where that is known to hand the value back
unchanged: a str for a text field, an int for an integer field or a key to an integer key, a
float, a bool (COPY writes those exactly as the prepared value). Those ~390,000 calls took a
sixth of a 10,000-row upload's profiled intake. Other databases (SQLite in development and
tests), and inserts too small to gain from it, use `bulk_create`.

COPY goes in PostgreSQL's binary format when every column is of a type whose binary form
psycopg writes from the prepared value as is (numbers, text, JSON, bytes, times): the server
then skips parsing numbers and timestamps and decoding a bytea's hex, which was a third of
its CPU for a chunk's decisions (2.62 s against 1.75 s per 10,000, and 2.2 s against 1.65 s
in the worker). A table with a column of any other type is copied as text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from django.db import connections, models
from django.db.models.fields import Field

from credscope_site.fields import bulk_batch_size

ModelT = TypeVar("ModelT", bound=models.Model)

#: Below this, one multi-row INSERT is cheaper than reserving ids and a COPY (two statements).
COPY_FROM_ROWS = 100

#: Column types, as Django's PostgreSQL backend names them (`Field.db_type`, before any
#: "(...)"), whose binary form psycopg writes from what the field's `get_db_prep_save` gives,
#: with their oids (built in: the same in every database).
BINARY_COPY_TYPES = {
    "boolean": 16,
    "bytea": 17,
    "bigint": 20,
    "smallint": 21,
    "integer": 23,
    "text": 25,
    "real": 700,
    "double precision": 701,
    "varchar": 1043,
    "date": 1082,
    "timestamp with time zone": 1184,
    "numeric": 1700,
    "uuid": 2950,
    "jsonb": 3802,
}

_INTEGER_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
#: Exact field classes (a subclass may convert differently) whose preparation of a value of
#: these exact types is the value itself: their `get_prep_value` is `to_python` or a cast,
#: and PostgreSQL's backend adapts none of them further.
_UNCHANGED_TYPES: dict[type[Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.FloatField: (float,),
    models.BooleanField: (bool,),
    **{field_class: (int,) for field_class in _INTEGER_FIELDS},
}


def bulk_insert(
    model: type[ModelT],
    objects: Iterable[ModelT],
    *,
    using: str = "default",
    as_given: Collection[str] = (),
) -> list[ModelT]:
    """Insert `objects` (unsaved instances of `model`) in order and return them with their
    primary keys set, like `model.objects.bulk_create(objects)`.

    `as_given` names fields that would set their own value on insert (auto_now_add) but are
    written as the objects hold them: a batch's rows, saved by a worker later, keep the time
    the officer uploaded them.
    """
    objects = list(objects)
    connection = connections[using]
    if connection.vendor != "postgresql" or len(objects) < COPY_FROM_ROWS:
        given = {name: [getattr(obj, name) for obj in objects] for name in as_given}
        saved = model._default_manager.using(using).bulk_create(
            objects, batch_size=bulk_batch_size(model)
        )
        _write_as_given(model, saved, given, using)
        return saved
    meta = model._meta
    pk = meta.pk
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in (pk, *fields))
    readers = [_value_reader(field, connection, field.name in as_given) for field in fields]
    with connection.cursor() as cursor:
        types = _binary_types(connection, [pk, *fields])
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(objects)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        statement = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        # The driver's own cursor: Django's wrapper has no COPY.
        with cursor.cursor.copy(statement + (" (FORMAT BINARY)" if types else "")) as copy:
            if types:
                copy.set_types(types)  # the binary form carries no type: it must be the column's
            for obj, pk_value in zip(objects, ids, strict=True):
                obj._prepare_related_fields_for_save(operation_name="bulk_insert")
                setattr(obj, pk.attname, pk_value)
                copy.write_row([pk_value, *(read(obj) for read in readers)])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = using
    return objects


def _binary_types(connection: Any, fields: list[Field]) -> list[int] | None:
    """The type oid of each field's column, or None when one of them is of a type that COPY
    must send as text."""
    oids = []
    for field in fields:
        name = (field.db_type(connection) or "").split("(", 1)[0].strip()
        if name not in BINARY_COPY_TYPES:
            return None
        oids.append(BINARY_COPY_TYPES[name])
    return oids


def _write_as_given(
    model: type[models.Model],
    saved: list[models.Model],
    given: dict[str, list[Any]],
    using: str,
) -> None:
    """After `bulk_create` set its own values for `given`'s fields, write the given ones back,
    one UPDATE per distinct value (the fallback path: few rows, or not PostgreSQL)."""
    for name, values in given.items():
        by_value: dict[Any, list[Any]] = {}
        for obj, value in zip(saved, values, strict=True):
            setattr(obj, name, value)
            by_value.setdefault(value, []).append(obj.pk)
        for value, pks in by_value.items():
            model._default_manager.using(using).filter(pk__in=pks).update(**{name: value})


def _value_reader(
    field: Field, connection: Any, as_given: bool = False
) -> Callable[[models.Model], Any]:
    """A function giving an object's value of `field` as `bulk_create` would send it
    (`get_db_prep_save(pre_save(...))`), skipping the calls where they change nothing;
    `as_given` skips `pre_save` too (see `bulk_insert`)."""

    def prepared(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    attname = field.attname
    if as_given:
        return lambda obj: prepared(getattr(obj, attname))
    if type(field).pre_save is not Field.pre_save:  # auto_now(_add) times, files
        return lambda obj: prepared(field.pre_save(obj, True))
    unchanged = _unchanged_types(field)
    if not unchanged:
        return lambda obj: prepared(getattr(obj, attname))

    def read(obj: models.Model) -> Any:
        value = getattr(obj, attname)
        return value if value is None or type(value) in unchanged else prepared(value)

    return read


def _unchanged_types(field: Field) -> tuple[type, ...]:
    if type(field) in (models.ForeignKey, models.OneToOneField):  # sent as the key it names
        return _unchanged_types(field.target_field)
    return _UNCHANGED_TYPES.get(type(field), ())
