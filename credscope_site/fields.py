"""Model fields shared by the apps."""

from django.db import models


class DocumentJSONField(models.JSONField):
    """A JSONField for large documents written in bulk (application rows, contributions).

    On PostgreSQL, Django's bulk_create packs each column into one text array for UNNEST,
    and escaping every quote of every document there cost ~3 ms per application row and
    ~15 ms per decision's contributions. Declaring a placeholder opts the field out of that
    path: rows go as a multi-row VALUES with each document its own bound parameter.
    """

    def get_placeholder(self, value, compiler, connection) -> str:
        return "%s"


#: PostgreSQL takes at most 65,535 bound parameters in one statement; with server-side
#: binding (see settings) Django's bulk_create does not split for it, so callers pass this.
MAX_BOUND_PARAMETERS = 65_535


def bulk_batch_size(model: type[models.Model]) -> int:
    """Rows per INSERT so that one statement stays within the bound-parameter limit."""
    columns = sum(1 for field in model._meta.concrete_fields if not field.primary_key)
    return max(1, MAX_BOUND_PARAMETERS // max(columns, 1) - 1)
