"""Out-of-domain and inconsistent values are refused on every way in, naming the field and
the accepted range, and nothing is saved (issue 11)."""

import pytest
from django.urls import reverse

from applicants.models import Applicant, LoanApplication
from applicants.services import batch_intake
from tests.applicants.test_api import APPLICATIONS, client_for
from tests.applicants.test_forms import form_data
from tests.applicants.test_views import login
from tests.factories import SEED_APPLICATION_ROW as ROW
from tests.factories import ModelVersionFactory, kept_batch_rows

OUT_OF_DOMAIN = [
    # Beyond 64 bits an integer is refused before the domain check, still naming the field.
    ({"CNT_CHILDREN": 10**20}, "CNT_CHILDREN", "9223372036854775807"),
    ({"FLAG_MOBIL": 7}, "FLAG_MOBIL", "must be 0 or 1"),
    ({"HOUR_APPR_PROCESS_START": 99}, "HOUR_APPR_PROCESS_START", "from 0 to 23"),
    ({"AMT_ANNUITY": 1e12, "AMT_CREDIT": 1}, "AMT_ANNUITY", "cannot exceed the credit"),
    ({"AMT_ANNUITY": 5000, "AMT_CREDIT": 1}, "AMT_ANNUITY", "cannot exceed the credit"),
    ({"CNT_CHILDREN": 3, "CNT_FAM_MEMBERS": 2}, "CNT_FAM_MEMBERS", "at least 4"),
    ({"AMT_GOODS_PRICE": 100.0}, "AMT_GOODS_PRICE", "consistent with the credit"),
]


@pytest.fixture
def active_model_row(db):
    """An active version row whose bundle is absent: the physical rules still apply."""
    return ModelVersionFactory(version="row-only", status="active")


def _nothing_saved() -> None:
    assert not LoanApplication.objects.exists() and not Applicant.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "field", "message"), OUT_OF_DOMAIN)
def test_the_api_refuses_out_of_domain_values(officer, active_model_row, change, field, message):
    response = client_for(officer).post(APPLICATIONS, {**ROW, **change}, format="json")
    assert response.status_code == 400
    assert message in response.json()["errors"][field]
    _nothing_saved()


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "field", "message"), OUT_OF_DOMAIN)
def test_a_csv_row_out_of_domain_is_a_row_error(officer, active_model_row, change, field, message):
    row = {**ROW, **change}
    # Beside a good row, the bad one is reported by row and field; only the good one is saved.
    columns = list(dict.fromkeys([*ROW, *change]))
    lines = [",".join(columns)]
    for values in (ROW, row):
        lines.append(",".join(str(values.get(c, "")) for c in columns))
    batch = batch_intake.batch_create(
        actor=officer, filename="mixed.csv", content=("\n".join(lines) + "\n").encode()
    )
    assert batch.invalid_rows == 1
    assert message in batch.row_errors["2"][field]
    assert kept_batch_rows(batch) == [1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"annuity": "1000000000000", "credit": "1", "goods_price": ""}, "annuity", ""),
        ({"annuity": "5000", "credit": "1", "goods_price": ""}, "annuity", "cannot exceed"),
        ({"children": "3", "family_members": "2"}, "family_members", "at least 4"),
        ({"goods_price": "100"}, "goods_price", "consistent with the credit"),
    ],
)
def test_the_form_refuses_them_beside_the_field(
    client, officer, active_model_row, change, field, message
):
    response = login(client, officer).post(reverse("applicants:new"), form_data(**change))
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error.lower() for error in form.errors[field]), form.errors
    _nothing_saved()


@pytest.mark.django_db
def test_values_far_outside_the_models_training_range_are_refused(officer, trained_model):
    """The active version's contract: within the physical rules, yet far beyond anything
    the model saw (its bundle's robust range, widened), named with the accepted range."""
    response = client_for(officer).post(
        APPLICATIONS, {**ROW, "AMT_INCOME_TOTAL": 5e9, "AMT_CREDIT": 5e9}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "far outside what model version" in errors["AMT_INCOME_TOTAL"]
    assert "accepted:" in errors["AMT_INCOME_TOTAL"]
    _nothing_saved()
