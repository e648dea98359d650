"""The new-application form: officer's terms in, a Kaggle row out, errors beside the field."""

from __future__ import annotations

import datetime

import pytest

from applicants.forms import ApplicationForm, OverrideForm
from scoring.ml.schema.records import clean_application
from scoring.ml.schema.tables import DAYS_SENTINEL

TODAY = datetime.date(2025, 11, 25)


def form_data(**overrides) -> dict[str, str]:
    data = {
        "full_name": "  Jana   Novak ",
        "birth_date": "1984-02-29",
        "gender": "F",
        "external_id": "",
        "contract_type": "Cash loans",
        "credit": "450000",
        "annuity": "24750.50",
        "goods_price": "405000",
        "income": "202500",
        "income_type": "Working",
        "employed_since": "2019-06-01",
        "occupation": "Accountants",
        "organization": "Bank",
        "education": "Higher education",
        "family_status": "Married",
        "children": "1",
        "family_members": "3",
        "housing": "House / apartment",
        "owns_realty": "Y",
        "owns_car": "Y",
        "car_age": "7",
        "ext_source_1": "",
        "ext_source_2": "0.61",
        "ext_source_3": "0.48",
        # Asked for when the active model requires them (the `test` model does).
        "region": "0.035792",
        "region_rating_client_w_city": "2",
        "days_last_phone_change": "2024-03-01",
        "flag_document_3": "1",
    }
    data.update(overrides)
    return data


def test_a_valid_form_builds_the_kaggle_row_with_exact_day_offsets() -> None:
    form = ApplicationForm(form_data(), today=TODAY)
    assert form.is_valid(), form.errors
    row = form.application_row
    assert row["DAYS_BIRTH"] == (datetime.date(1984, 2, 29) - TODAY).days == -15245
    assert row["DAYS_EMPLOYED"] == (datetime.date(2019, 6, 1) - TODAY).days == -2369
    assert row["AMT_CREDIT"] == 450000.0
    assert row["AMT_ANNUITY"] == 24750.5
    assert row["AMT_INCOME_TOTAL"] == 202500.0
    assert row["NAME_CONTRACT_TYPE"] == "Cash loans"
    assert row["CNT_CHILDREN"] == 1 and row["CNT_FAM_MEMBERS"] == 3.0
    assert row["OWN_CAR_AGE"] == 7.0 and row["FLAG_OWN_CAR"] == "Y"
    assert row["CODE_GENDER"] == "F"
    assert row["ORGANIZATION_TYPE"] == "Bank"
    assert "EXT_SOURCE_1" not in row  # left empty: missing, never a made-up zero
    assert form.cleaned_data["full_name"] == "Jana Novak"
    # The row is exactly what the shared validator accepts, for every door.
    assert clean_application(row) == (row, {})


def test_not_employed_is_the_kaggle_sentinel_with_no_employer() -> None:
    form = ApplicationForm(
        form_data(employed_since="", not_employed="on", income_type="Pensioner"), today=TODAY
    )
    assert form.is_valid(), form.errors
    assert form.application_row["DAYS_EMPLOYED"] == DAYS_SENTINEL == 365243
    assert form.application_row["ORGANIZATION_TYPE"] == "XNA"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"employed_since": ""}, "employed_since", "tick"),
        ({"not_employed": "on"}, "employed_since", "Leave this empty"),
        ({"employed_since": "2026-01-01"}, "employed_since", "future"),
        ({"employed_since": "1980-01-01"}, "employed_since", "before birth"),
        ({"birth_date": "2010-05-05"}, "birth_date", "between 18 and 100"),
        ({"birth_date": "2030-01-01"}, "birth_date", "in the past"),
        ({"credit": "-5"}, "credit", "Enter an amount greater than 0."),
        ({"income": "abc"}, "income", "number"),
        ({"ext_source_2": "1.5"}, "ext_source_2", "less than or equal to 1"),
        ({"owns_car": "N"}, "car_age", "owns no car"),
        ({"full_name": "   "}, "full_name", "required"),
        ({"contract_type": "Mortgage"}, "contract_type", "valid choice"),
    ],
)
def test_each_error_is_shown_beside_the_field_it_concerns(overrides, field, message) -> None:
    form = ApplicationForm(form_data(**overrides), today=TODAY)
    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert form.application_row == {}


def test_a_service_error_keyed_by_kaggle_column_lands_on_its_field() -> None:
    form = ApplicationForm(form_data(), today=TODAY)
    assert form.is_valid()
    form.add_service_errors(
        {"AMT_CREDIT": "must be between 0.01 and 999,999,999,999.99", "history": "bad"}
    )
    assert form.errors["credit"] == ["This value must be between 0.01 and 999,999,999,999.99."]
    assert form.non_field_errors() == ["Bad."]


def test_dates_cannot_be_picked_after_today() -> None:
    form = ApplicationForm(today=TODAY)
    html = str(form["birth_date"])
    assert 'type="date"' in html and 'max="2025-11-25"' in html


def test_override_form_needs_a_final_outcome_and_a_justification() -> None:
    form = OverrideForm({"outcome": "REFER", "justification": ""})
    assert not form.is_valid()
    assert set(form.errors) == {"outcome", "justification"}
    assert OverrideForm({"outcome": "APPROVE", "justification": "Stable income."}).is_valid()
