"""The API documents exactly what it validates: the OpenAPI fields of an application and
`clean_application` come from one definition (`scoring.ml.schema.records`)."""

from __future__ import annotations

import json

import pytest

from scoring.ml.schema.records import application_fields, clean_application
from scoring.ml.schema.tables import Kind

pytestmark = pytest.mark.django_db

VALID = {"AMT_INCOME_TOTAL": 180000.0, "AMT_CREDIT": 500000.0, "DAYS_BIRTH": -15000}


@pytest.fixture(scope="module")
def request_schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)["components"]["schemas"]["ApplicationRequest"]


def test_every_accepted_column_is_documented_with_its_requirement(request_schema) -> None:
    definitions = application_fields()
    properties = request_schema["properties"]
    assert {d.name for d in definitions} <= set(properties)
    assert set(request_schema["required"]) == {d.name for d in definitions if d.required}


@pytest.mark.parametrize(
    "definition", [d for d in application_fields() if d.bounds is not None], ids=lambda d: d.name
)
def test_each_documented_range_is_the_range_validation_enforces(request_schema, definition):
    documented = request_schema["properties"][definition.name]
    bounds = definition.bounds
    assert documented.get("minimum") == bounds.minimum
    assert documented.get("maximum") == bounds.maximum
    assert documented.get("description") == bounds.message
    # Just outside the documented range is refused with the documented message.
    outside = (bounds.maximum + 1) if bounds.maximum is not None else bounds.minimum - 1
    if definition.kind is Kind.INT:
        outside = int(outside)
    _, errors = clean_application({**VALID, definition.name: outside})
    assert errors.get(definition.name) == bounds.message


def test_documented_categories_are_the_accepted_vocabulary(request_schema) -> None:
    for definition in application_fields():
        if definition.kind is Kind.CATEGORY:
            documented = request_schema["properties"][definition.name]
            enum = documented.get("enum") or _referenced_enum(documented)
            assert set(enum) == set(definition.vocabulary), definition.name


def _referenced_enum(documented: dict) -> list:
    """drf-spectacular moves shared choice sets to components; follow the reference."""
    from django.test import Client

    ref = (documented.get("allOf") or [documented])[0]["$ref"].rsplit("/", 1)[-1]
    schemas = json.loads(Client().get("/api/v1/schema/?format=json").content)["components"]
    return schemas["schemas"][ref]["enum"]
