"""The OpenAPI schema is exact (probe item 10): paginated lists, the CSV's media type, and
every error status an operation can answer, each with the one error body."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
def schema() -> dict:
    response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def responses(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][f"/api/v1/{path}"][method]["responses"]


def test_the_application_list_is_documented_as_a_page(schema) -> None:
    ok = responses(schema, "get", "applications/")["200"]["content"]["application/json"]
    page = schema["components"]["schemas"][ok["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"count", "results"} <= set(page["required"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    assert page["properties"]["results"]["items"] == {
        "$ref": "#/components/schemas/ApplicationOutput"
    }
    assert page["properties"]["next"]["nullable"] is True
    parameters = {
        p["name"]: p for p in schema["paths"]["/api/v1/applications/"]["get"]["parameters"]
    }
    assert {"page", "page_size", "search", "status", "outcome", "date_from", "date_to"} <= set(
        parameters
    )
    # A blank filter means "any", as an empty form field sends it; a blank page does not.
    assert parameters["date_from"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in parameters["page"]


def test_the_results_csv_is_typed_text_csv(schema) -> None:
    ok = responses(schema, "get", "batches/{batch_id}/results.csv")["200"]
    assert list(ok["content"]) == ["text/csv"]
    assert ok["content"]["text/csv"]["schema"] == {"type": "string"}


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("post", "applications/", {"400", "401", "403", "409", "413", "415", "429", "503"}),
        ("get", "applications/", {"400", "401", "403", "429", "503"}),
        ("get", "applications/{application_id}/", {"401", "403", "404", "429", "503"}),
        ("get", "applications/{application_id}/explanation/", {"404", "409"}),
        ("post", "batches/", {"400", "413", "415", "503"}),
        ("get", "batches/{batch_id}/results.csv", {"401", "403", "404", "429", "503"}),
        ("post", "policies/", {"400", "401", "403", "413", "429"}),
        ("post", "auth/token/", {"400", "401", "413", "429", "503"}),
    ],
)
def test_each_operation_declares_its_error_statuses_with_the_error_body(
    schema, method, path, codes
) -> None:
    declared = responses(schema, method, path)
    assert codes <= set(declared), codes - set(declared)
    for code, response in declared.items():
        if code >= "400":
            assert response["content"]["application/json"]["schema"] == ERROR, (code, path)


def test_operations_without_ids_or_input_declare_no_400_or_404(schema) -> None:
    models = responses(schema, "get", "models/")
    assert "400" not in models and "404" not in models
    assert set(responses(schema, "post", "auth/logout/")) == {"204", "401", "403", "429", "503"}


def test_health_documents_its_503_body(schema) -> None:
    health = responses(schema, "get", "health/")
    assert health["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Health"
    }


def test_operation_ids_are_unique(schema) -> None:
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert "applications_list" in ids


def test_an_id_that_is_not_a_number_is_a_json_404() -> None:
    response = APIClient().get("/api/v1/applications/-1/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
