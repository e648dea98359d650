"""Recorded loan outcomes: the API per role, the CSV import's row errors, all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from applicants.models import LoanOutcome
from audits.actions import AuditAction
from audits.models import AuditEvent
from tests.factories import ApplicantFactory, DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db


def url(application_id: int) -> str:
    return reverse("api:application-outcome", args=[application_id])


@pytest.fixture
def decided(officer):
    return DecisionFactory(application__created_by=officer).application


@pytest.mark.parametrize(
    ("persona", "status"),
    [("officer", 403), ("compliance", 201), ("model_admin", 201), (None, 401)],
)
def test_outcome_api_per_role(request, decided, persona, status) -> None:
    client = APIClient()
    if persona:
        client.force_authenticate(request.getfixturevalue(persona))
    today = timezone.localdate().isoformat()
    response = client.post(url(decided.pk), {"outcome": "repaid", "observed_at": today})
    assert response.status_code == status
    assert LoanOutcome.objects.filter(application=decided).exists() == (status == 201)
    if status == 201:
        assert response.json()["outcome"] == "repaid"
        event = AuditEvent.objects.get(action=AuditAction.OUTCOME_RECORDED)
        assert event.target_id == str(decided.pk)
        assert event.actor.username == persona


def test_outcome_is_not_overwritten(compliance, decided) -> None:
    client = APIClient()
    client.force_authenticate(compliance)
    today = timezone.localdate().isoformat()
    assert (
        client.post(url(decided.pk), {"outcome": "defaulted", "observed_at": today}).status_code
        == 201
    )
    again = client.post(url(decided.pk), {"outcome": "defaulted", "observed_at": today})
    assert again.status_code == 200
    other = client.post(url(decided.pk), {"outcome": "repaid", "observed_at": today})
    assert other.status_code == 409
    assert "already recorded as defaulted" in other.json()["detail"]
    assert LoanOutcome.objects.get(application=decided).outcome == "defaulted"
    assert AuditEvent.objects.filter(action=AuditAction.OUTCOME_RECORDED).count() == 1


def test_outcome_bad_input_names_the_field(compliance, decided, officer) -> None:
    client = APIClient()
    client.force_authenticate(compliance)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(url(decided.pk), {"outcome": "paid", "observed_at": "2026-13-01"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"outcome", "observed_at"}
    response = client.post(url(decided.pk), {"outcome": "repaid", "observed_at": tomorrow})
    assert response.status_code == 400
    assert "in the future" in response.json()["errors"]["observed_at"]
    pending = LoanApplicationFactory(created_by=officer)
    response = client.post(
        url(pending.pk), {"outcome": "repaid", "observed_at": timezone.localdate().isoformat()}
    )
    assert response.status_code == 400
    assert "not decided" in response.json()["errors"]["application"]
    assert (
        client.post(url(999999), {"outcome": "repaid", "observed_at": tomorrow}).status_code == 404
    )
    assert not LoanOutcome.objects.exists()


def write(tmp_path, text: str):
    path = tmp_path / "outcomes.csv"
    path.write_text(text)
    return path


def test_import_records_every_row_and_one_audit_event(tmp_path, compliance, officer) -> None:
    first = DecisionFactory(application__created_by=officer).application
    applicant = ApplicantFactory(external_id=100042, created_by=officer)
    second = DecisionFactory(
        application__created_by=officer, application__applicant=applicant
    ).application
    today = timezone.localdate().isoformat()
    path = write(
        tmp_path,
        f"application_id,external_id,outcome,observed_at\n{first.pk},,repaid,{today}\n"
        f",100042,defaulted,{today}\n",
    )
    call_command("import_outcomes", str(path), "--user", "compliance")
    assert dict(LoanOutcome.objects.values_list("application_id", "outcome")) == {
        first.pk: "repaid",
        second.pk: "defaulted",
    }
    event = AuditEvent.objects.get(action=AuditAction.OUTCOMES_IMPORTED)
    assert event.payload["recorded"] == 2
    assert event.payload["file"] == "outcomes.csv"
    # A second run of the same file records nothing new.
    call_command("import_outcomes", str(path), "--user", "compliance")
    assert LoanOutcome.objects.count() == 2


def test_import_with_a_bad_row_records_nothing_and_names_file_row_and_column(
    tmp_path, compliance, officer
) -> None:
    good = DecisionFactory(application__created_by=officer).application
    today = timezone.localdate().isoformat()
    path = write(
        tmp_path,
        "application_id,outcome,observed_at\n"
        f"{good.pk},repaid,{today}\n"
        f"{good.pk + 1000},repaid,{today}\n"
        f"{good.pk},maybe,03/12/2026\n",
    )
    with pytest.raises(CommandError) as error:
        call_command("import_outcomes", str(path), "--user", "compliance")
    message = str(error.value)
    assert f"{path}: row 3, column application_id: no application {good.pk + 1000}" in message
    assert f"{path}: row 4, column outcome: 'maybe' is not repaid or defaulted" in message
    assert f"{path}: row 4, column observed_at: '03/12/2026' is not a YYYY-MM-DD date" in message
    assert "nothing was recorded" in message
    assert not LoanOutcome.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.OUTCOMES_IMPORTED).exists()


def test_import_refuses_a_file_without_the_columns(tmp_path, compliance) -> None:
    path = write(tmp_path, "id,result\n1,repaid\n")
    with pytest.raises(CommandError) as error:
        call_command("import_outcomes", str(path), "--user", "compliance")
    assert "row 1, column outcome: required column is missing" in str(error.value)
    assert "row 1, column application_id: give application_id or external_id" in str(error.value)


def test_import_needs_the_permission(tmp_path, officer) -> None:
    path = write(tmp_path, "application_id,outcome,observed_at\n1,repaid,2026-01-01\n")
    with pytest.raises(CommandError, match="may not record outcomes"):
        call_command("import_outcomes", str(path), "--user", "officer")
