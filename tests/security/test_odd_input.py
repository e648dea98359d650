"""500s on odd input (probe item 6): each is now a 400 naming the field, or a JSON 413.

The API's strict JSON parser (credscope_site/parsers.py) refuses what PostgreSQL or the model
cannot take before any service sees it; nothing is saved.
"""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from applicants.models import Applicant, LoanApplication
from scoring.models import BatchJob
from tests.applicants.test_forms import form_data
from tests.factories import SEED_APPLICATION_ROW as ROW
from tests.factories import ModelVersionFactory, kept_batch_rows

pytestmark = pytest.mark.django_db

APPLICATIONS = "/api/v1/applications/"


@pytest.fixture
def api(officer) -> APIClient:
    client = APIClient()
    client.force_authenticate(officer)
    return client


def post_raw(api: APIClient, body: str | bytes):
    data = body.encode() if isinstance(body, str) else body
    return api.post(APPLICATIONS, data, content_type="application/json")


def assert_field_error(response, field: str, words: str) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words in errors[field]
    assert not Applicant.objects.exists() and not LoanApplication.objects.exists()


def test_an_integer_with_401_digits(api) -> None:
    body = json.dumps(ROW)[:-1] + ', "AMT_INCOME_TOTAL": ' + "9" * 401 + "}"
    assert_field_error(post_raw(api, body), "AMT_INCOME_TOTAL", "too large")


@pytest.mark.parametrize(
    ("raw_name", "words"),
    [('"Jana\\u0000Novak"', "NUL"), ('"Jana \\ud800 Novak"', "lone surrogate")],
)
def test_nul_or_a_lone_surrogate_in_the_name(api, raw_name, words) -> None:
    body = json.dumps(ROW)[:-1] + f', "full_name": {raw_name}' + "}"
    assert_field_error(post_raw(api, body), "full_name", words)


def test_an_external_id_at_2_to_the_63(api) -> None:
    response = api.post(APPLICATIONS, {**ROW, "external_id": 2**63}, format="json")
    assert_field_error(response, "external_id", "too large (at most 9223372036854775807)")


def test_a_history_id_too_large_deep_inside(api) -> None:
    history = {"bureau": [{"SK_ID_BUREAU": 2**64, "DAYS_CREDIT": -100}]}
    response = api.post(APPLICATIONS, {**ROW, "history": history}, format="json")
    assert_field_error(response, "history.bureau[0].SK_ID_BUREAU", "too large")


def test_json_nested_a_thousand_deep(api) -> None:
    body = json.dumps(ROW)[:-1] + ', "history": ' + "[" * 1000 + "]" * 1000 + "}"
    assert_field_error(post_raw(api, body), "history", "nested more than 32 levels deep")


def test_nan_and_infinity_are_not_numbers(api) -> None:
    response = post_raw(api, json.dumps(ROW)[:-1] + ', "AMT_CREDIT": NaN}')
    assert response.status_code == 400
    assert "NaN is not a number JSON allows" in response.json()["errors"]["body"]
    response = post_raw(api, json.dumps(ROW)[:-1] + ', "AMT_CREDIT": 1e400}')
    assert_field_error(response, "AMT_CREDIT", "too large")


def test_a_30_mb_json_body_is_a_json_413(api) -> None:
    body = b'{"full_name": "' + b"a" * (30 * 1024 * 1024) + b'"}'
    response = post_raw(api, body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "the limit is 2,621,440 bytes" in response.json()["detail"]
    assert not LoanApplication.objects.exists()


def test_a_big_body_to_the_token_endpoint_is_a_json_413_too() -> None:
    body = b'{"username": "' + b"a" * (3 * 1024 * 1024) + b'", "password": "x"}'
    response = APIClient().post("/api/v1/auth/token/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["errors"]["body"]


@pytest.mark.parametrize(
    ("term", "words"),
    [("²", "digits must be 0-9"), ("99999999999999999999", "too large for an id"),
     ("a\x00b", "Null characters are not allowed")],
)  # fmt: skip
def test_odd_search_terms_on_the_api(api, term, words) -> None:
    response = api.get(APPLICATIONS, {"search": term})
    assert response.status_code == 400
    assert words in response.json()["errors"]["search"]


def test_a_nul_in_the_audit_actor_filter(client, compliance) -> None:
    client.force_login(compliance)
    response = client.get(reverse("audits:trail"), {"actor": "\x00"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.text
    assert client.get(reverse("audits:trail"), {"actor": "officer"}).status_code == 200


# --- the form, the pages and CSV batches -----------------------------------------------------


def test_the_form_refuses_an_applicant_id_at_2_to_the_63(client, officer) -> None:
    client.force_login(officer)
    response = client.post(reverse("applicants:new"), form_data(external_id=str(2**63)))
    assert response.status_code == 400
    assert re.search(
        r'id="field-external_id">.*?less than or equal to 9223372036854775807', response.text, re.S
    )
    assert not LoanApplication.objects.exists()


def test_the_form_refuses_a_nul_in_the_name(client, officer) -> None:
    client.force_login(officer)
    response = client.post(reverse("applicants:new"), form_data(full_name="Jana\x00Novak"))
    assert response.status_code == 400
    assert re.search(
        r'id="field-full_name">.*?Null characters are not allowed', response.text, re.S
    )


def test_a_history_id_of_1e30_is_refused_at_submission_not_in_the_worker(api) -> None:
    history = {"bureau": [{"SK_ID_BUREAU": 1e30, "DAYS_CREDIT": -100}]}
    response = api.post(APPLICATIONS, {**ROW, "history": history}, format="json")
    assert_field_error(response, "history.bureau[0].SK_ID_BUREAU", "must be at most")


@pytest.mark.parametrize("term", ["²", "99999999999999999999"])
def test_odd_search_terms_on_the_list_page(client, officer, term) -> None:
    client.force_login(officer)
    response = client.get(reverse("applicants:list"), {"search": term})
    assert response.status_code == 400
    assert 'id="search-error"' in response.text and "The search " in response.text


@pytest.mark.parametrize(
    ("column", "cell", "words"),
    [
        ("SK_ID_CURR", "²", "must be a whole number >= 0 (got '²')"),
        ("SK_ID_CURR", str(2**63), "must be at most 9223372036854775807"),
        ("AMT_INCOME_TOTAL", "1_8_0000", "must be a number (got '1_8_0000')"),
        ("AMT_INCOME_TOTAL", "١٨٠٠٠٠", "must be a number"),  # Arabic-Indic digits
        ("CNT_CHILDREN", "1e30", "must be at most 9223372036854775807 in size"),
    ],
)
def test_a_csv_row_with_an_odd_cell_is_reported_by_row_and_column(api, column, cell, words) -> None:
    ModelVersionFactory(version="row-only", status="active")
    header = "AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH"
    good = "180000,500000,-12000"
    if column == "AMT_INCOME_TOTAL":
        body = f"{header}\n{good}\n{cell},500000,-12000\n"
    else:
        body = f"{header},{column}\n{good},1\n{good},{cell}\n"
    response = api.post("/api/v1/batches/", body.encode(), content_type="text/csv")
    assert response.status_code == 202, response.content[:300]
    batch = BatchJob.objects.get(pk=response.json()["id"])
    assert batch.invalid_rows == 1
    assert words in batch.row_errors["2"][column]
    assert kept_batch_rows(batch) == [1]  # the good row only


@pytest.mark.parametrize("page", ["-24688497837", "0", "²", "x"])
def test_a_page_that_is_not_a_page_number(api, page) -> None:
    response = api.get(APPLICATIONS, {"page": page})
    assert response.status_code == 400
    assert response.json()["errors"] == {"page": "must be a whole number of 1 or more"}


@pytest.mark.parametrize("size", ["23095794890.338326", "0", "-3", "ten"])
def test_a_page_size_that_is_not_a_size(api, size) -> None:
    response = api.get(APPLICATIONS, {"page_size": size})
    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": "must be a whole number of 1 or more"}


def test_a_page_past_the_last_is_a_404_saying_how_many(api) -> None:
    response = api.get(APPLICATIONS, {"page": "7"})
    assert response.status_code == 404
    assert response.json()["detail"] == "No page 7: the list has 1 page."
