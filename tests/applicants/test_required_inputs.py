"""The active model version's required inputs, on every way in (issue 11).

Required: never missing in the version's training data and mattering to it (its bundle's
``reference.json``). The API answers 400 naming each one left out, a CSV row gets an error
naming its row and column, the form shows the error beside the field, and nothing is saved.
The contract is the active version's: another version requires what it requires.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse

from applicants.forms import ApplicationForm
from applicants.models import Applicant, LoanApplication
from applicants.services import batch_intake
from audits.models import AuditEvent
from scoring import challenger, decide, registry
from scoring.ml.schema.contract import REGION_COLUMN, InputContract
from scoring.ml.serving.bundle import load_bundle, write_bundle
from scoring.ml.training.learners import BASE_MODELS
from scoring.models import Decision
from tests.applicants.test_api import APPLICATIONS, _fresh_throttles, client_for  # noqa: F401 (autouse)
from tests.applicants.test_forms import TODAY, form_data
from tests.applicants.test_views import login
from tests.factories import kept_batch_rows, minimal_application, with_required_columns

pytestmark = pytest.mark.django_db

#: What the `test` model (trained on the real sample) requires beyond the three columns
#: every application needs (its contract, read back in the first test).
CONTRACT_REQUIRED = (
    "AMT_ANNUITY",
    "NAME_EDUCATION_TYPE",
    "REGION_POPULATION_RELATIVE",
    "DAYS_EMPLOYED",
    "REGION_RATING_CLIENT_W_CITY",
    "DAYS_LAST_PHONE_CHANGE",
    "FLAG_DOCUMENT_3",
)


def _nothing_saved() -> None:
    assert not LoanApplication.objects.exists() and not Applicant.objects.exists()
    assert not AuditEvent.objects.filter(action="application.submitted").exists()


def test_the_active_version_requires_what_its_bundle_records(trained_model) -> None:
    reference = load_bundle(trained_model.bundle_path).reference
    flagged = {name for name, entry in reference["inputs"].items() if entry["required"]}
    contract = registry.input_contract()
    assert set(contract.required) == flagged | {"AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH"}
    assert set(CONTRACT_REQUIRED) <= set(contract.required)
    # Each required input was never missing in training and carries weight in the model.
    for name in flagged:
        assert reference["inputs"][name]["missing_rate"] == 0.0
        assert reference["inputs"][name]["attribution_share"] >= 0.01


def test_the_api_names_each_missing_required_field_and_saves_nothing(
    officer, trained_model
) -> None:
    payload = minimal_application(**dict.fromkeys(CONTRACT_REQUIRED))
    response = client_for(officer).post(f"{APPLICATIONS}?wait=true", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == dict.fromkeys(CONTRACT_REQUIRED, "this field is required")
    _nothing_saved()


def test_other_errors_are_named_together_with_the_missing_fields(officer, trained_model) -> None:
    payload = minimal_application(DAYS_EMPLOYED=None, AMT_ANNUITY="lots")
    response = client_for(officer).post(APPLICATIONS, payload, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["DAYS_EMPLOYED"] == "this field is required"
    assert "must be a number" in errors["AMT_ANNUITY"]  # the bad value, not "required"
    _nothing_saved()


def test_a_known_applicant_still_gives_the_required_application_inputs(
    officer, trained_model
) -> None:
    """The id brings stored credit history, never the application's own inputs."""
    payload = {**minimal_application(REGION_POPULATION_RELATIVE=None), "external_id": 100002}
    response = client_for(officer).post(APPLICATIONS, payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {REGION_COLUMN: "this field is required"}
    _nothing_saved()


def test_the_minimal_payload_is_decided(officer, trained_model) -> None:
    response = client_for(officer).post(
        f"{APPLICATIONS}?wait=true", minimal_application(), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["decision"]["outcome"] in {"APPROVE", "REFER", "REJECT"}


def test_a_csv_row_missing_a_required_value_is_an_error_naming_row_and_column(
    officer, trained_model
) -> None:
    header = "full_name,AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH,DAYS_EMPLOYED"
    content = with_required_columns(
        "\n".join(
            [
                header,
                "Jana Novakova,180000,500000,-15000,-2000",
                "Petr Svoboda,90000,270000,-9000,",  # no employment: row 2
                "Eva Dvorak,120000,300000,-12000,-800",
            ]
        )
    ).decode()
    # Row 3 also leaves the region empty.
    lines = content.splitlines()
    columns = lines[0].split(",")
    cells = lines[3].split(",")
    cells[columns.index(REGION_COLUMN)] = ""
    lines[3] = ",".join(cells)
    batch = batch_intake.batch_create(
        actor=officer, filename="thin.csv", content=("\n".join(lines) + "\n").encode()
    )
    assert batch.row_errors == {
        "2": {"DAYS_EMPLOYED": "this field is required"},
        "3": {REGION_COLUMN: "this field is required"},
    }
    assert kept_batch_rows(batch) == [1]


def test_a_csv_without_a_required_column_is_refused_naming_it(officer, trained_model) -> None:
    content = with_required_columns("AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH\n1,2,-9000").decode()
    header, line = content.splitlines()
    at = header.split(",").index("FLAG_DOCUMENT_3")
    drop = lambda text: ",".join(c for i, c in enumerate(text.split(",")) if i != at)  # noqa: E731
    with pytest.raises(batch_intake.BatchInvalid) as caught:
        batch_intake.batch_create(
            actor=officer, filename="x.csv", content=f"{drop(header)}\n{drop(line)}\n".encode()
        )
    assert caught.value.errors == {"required": "missing required column(s): FLAG_DOCUMENT_3"}
    _nothing_saved()


def test_the_batch_template_and_page_follow_the_contract(client, officer, trained_model) -> None:
    response = login(client, officer).get(reverse("applicants:batch_template"))
    header = response.content.decode().splitlines()[0].split(",")
    required = registry.input_contract().required
    assert set(required) <= set(header)
    # The template's examples are valid rows under the active contract, as written.
    batch = batch_intake.batch_create(
        actor=officer, filename="template.csv", content=response.content
    )
    assert batch.invalid_rows == 0, batch.row_errors
    page = client.get(reverse("applicants:batch_new")).content.decode()
    for column in required:
        assert f"<code>{column}</code>" in page


def test_the_form_shows_each_missing_required_input_beside_its_field(
    client, officer, trained_model
) -> None:
    data = form_data(region="", days_last_phone_change="", flag_document_3="")
    response = login(client, officer).post(reverse("applicants:new"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"region", "days_last_phone_change", "flag_document_3"}
    _nothing_saved()


def test_the_region_is_chosen_from_the_training_regions_and_decided_on(
    client, officer, trained_model
) -> None:
    reference = load_bundle(trained_model.bundle_path).reference
    training_regions = {value for value, _ in reference["inputs"][REGION_COLUMN]["values"]}
    form = ApplicationForm(contract=registry.input_contract())
    choices = [(value, label) for value, label in form.fields["region"].choices if value]
    assert {float(value) for value, _ in choices} == training_regions
    shares = [float(value) for value, _ in choices]
    assert shares == sorted(shares, reverse=True)  # most populous first
    assert len({label for _, label in choices}) == len(choices)  # every label tells one apart
    value, label = next((v, lbl) for v, lbl in choices if v == "0.010006")
    assert label == "1.001% of the population (128 training applicants)"

    response = login(client, officer).post(reverse("applicants:new"), form_data(region=value))
    assert response.status_code == 302, response.context["form"].errors
    application = LoanApplication.objects.get()
    assert application.application_row[REGION_COLUMN] == 0.010006
    # Decided as a worker would (the queue may be a real broker with no worker here).
    decision = Decision.objects.filter(application=application).first() or (
        decide.application_decide(application_id=application.pk, task_id="test")
    )
    used = {c["feature"]: c.get("value") for c in registry.decision_contributions(decision)}
    assert used[REGION_COLUMN] == pytest.approx(0.010006)


def test_a_region_not_on_the_list_is_refused() -> None:
    contract = InputContract(
        version="v", inputs={REGION_COLUMN: {"required": True, "values": [[0.02, 5]]}}
    )
    form = ApplicationForm(form_data(region="0.5"), today=TODAY, contract=contract)
    assert not form.is_valid()
    assert "region" in form.errors


# --- the contract is the active version's ------------------------------------------------------


def _variant(bundle_path: str, out_dir: Path, *, required: dict[str, bool]) -> Path:
    """The same model in a new bundle whose contract flags `required` differently."""
    bundle = load_bundle(bundle_path)
    reference = json.loads(json.dumps(bundle.reference))
    for name, flag in required.items():
        reference["inputs"][name]["required"] = flag
    info = write_bundle(
        out_dir,
        models={m: bundle.native_model(m) for m in BASE_MODELS},
        ensemble=bundle.ensemble,
        features=bundle.features,
        metrics=bundle.metrics,
        training=bundle.training,
        reference=reference,
    )
    return info.path


def test_another_active_version_requires_what_its_own_contract_says(
    officer, trained_model, tmp_path
) -> None:
    path = _variant(
        trained_model.bundle_path, tmp_path, required={REGION_COLUMN: False, "OWN_CAR_AGE": True}
    )
    variant = registry.model_version_register(bundle_path=path, profile="test", trained_by=None)
    api = client_for(officer)
    without_region = minimal_application(REGION_POPULATION_RELATIVE=None)

    # A challenger's contract does not count: the active version's does.
    challenger.model_version_challenger_set(version=variant.version, actor=None)
    response = api.post(APPLICATIONS, without_region, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {REGION_COLUMN: "this field is required"}

    registry.model_version_activate(version=variant.version, actor=None, reason="new contract")
    response = api.post(f"{APPLICATIONS}?wait=true", without_region, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"OWN_CAR_AGE": "this field is required"}
    response = api.post(
        f"{APPLICATIONS}?wait=true", {**without_region, "OWN_CAR_AGE": 4}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["decision"]["model_version"] == variant.version
    # The form asks for it too, in words, and no longer insists on a region.
    form = ApplicationForm(contract=registry.input_contract())
    assert form.fields["car_age"].required and not form.fields["region"].required


def test_a_bundle_without_required_flags_requires_only_what_every_application_needs() -> None:
    contract = InputContract.from_reference(
        {"inputs": {"DAYS_EMPLOYED": {"missing_rate": 0.0}}}, version="old"
    )
    assert contract.required == ("AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH")
    old = InputContract.from_reference(
        {"features": {REGION_COLUMN: {"quantiles": [0.01] * 3 + [0.015, 0.02, 0.02, 0.03]}}},
        version="old",
    )
    # Repeated quantile points are regions' values; a lone inner point may be interpolated.
    assert [region.share for region in old.regions()] == [0.03, 0.02, 0.01]
