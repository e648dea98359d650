"""application_submit: one transaction with its audit event, every door's validation,
idempotency, permissions, and a broker outage that leaves nothing half-written."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from applicants import selectors
from applicants.models import Applicant, LoanApplication
from applicants.services import submit as services
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import registry
from scoring.models import Decision
from scoring.queue import ApplicationQueueUnavailable
from tests.factories import SEED_APPLICATION_ROW as ROW
from tests.factories import ModelVersionFactory


@pytest.fixture
def active_model_row(db):
    """An active version row, for tests that stop before scoring (on_commit never runs in a
    test transaction, so nothing tries to load its bundle)."""
    return ModelVersionFactory(version="row-only", status="active")


def submit(actor, **kwargs):
    kwargs.setdefault("channel", LoanApplication.Channel.API)
    kwargs.setdefault("application_row", dict(ROW))
    return services.application_submit(actor=actor, **kwargs)


def test_submit_saves_applicant_application_and_audit_event(officer, active_model_row) -> None:
    application, created = submit(officer, full_name="Ada Lovelace", external_id=100002)
    assert created
    application.refresh_from_db()
    assert application.status == LoanApplication.Status.SUBMITTED
    assert application.created_by == officer and application.channel == "api"
    assert application.application_row == {
        **ROW,
        "AMT_INCOME_TOTAL": 180000.0,
        "AMT_CREDIT": 500000.0,
    }
    assert application.contract_type == "Cash loans"
    assert application.applicant.full_name == "Ada Lovelace"
    assert application.applicant.external_id == 100002
    assert application.applicant.days_birth == -15000
    event = AuditEvent.objects.get(action=AuditAction.APPLICATION_SUBMITTED)
    assert event.actor == officer
    assert (event.target_type, event.target_id) == (
        "applicants.loanapplication",
        str(application.pk),
    )
    assert event.payload["after"] == {"status": "SUBMITTED"} and event.payload["channel"] == "api"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"AMT_INCOME_TOTAL": -5}, "AMT_INCOME_TOTAL", "must be greater than 0"),
        ({"AMT_INCOME_TOTAL": "lots"}, "AMT_INCOME_TOTAL", "must be a number"),
        ({"FAVOURITE_COLOUR": "blue"}, "FAVOURITE_COLOUR", "unknown field"),
        ({"SK_ID_CURR": 5}, "SK_ID_CURR", "assigned by CredScope"),
        ({"AMT_CREDIT": 0.001}, "AMT_CREDIT", "must be between"),
        ({"AMT_CREDIT": 1e15}, "AMT_CREDIT", "must be between"),
        ({"EXT_SOURCE_2": 1.5}, "EXT_SOURCE_2", "between 0 and 1"),
        ({"CODE_GENDER": "Q"}, "CODE_GENDER", "is not one of"),
    ],
)
def test_invalid_rows_name_the_field_and_save_nothing(
    officer, active_model_row, change, field, message
):
    with pytest.raises(services.ApplicationInvalid) as caught:
        submit(officer, application_row={**ROW, **change})
    assert message in caught.value.errors[field]
    assert not LoanApplication.objects.exists() and not Applicant.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.APPLICATION_SUBMITTED).exists()


def test_every_problem_is_reported_at_once(officer, active_model_row) -> None:
    row = {k: v for k, v in ROW.items() if k not in ("DAYS_BIRTH", "AMT_ANNUITY")}
    row |= {"AMT_CREDIT": -1}
    with pytest.raises(services.ApplicationInvalid) as caught:
        submit(officer, application_row=row, external_id="abc", history={"bureau": "x"})
    assert set(caught.value.errors) == {"DAYS_BIRTH", "AMT_CREDIT", "external_id", "history.bureau"}


def test_same_key_and_body_returns_the_first_application(officer, active_model_row) -> None:
    first, created = submit(officer, idempotency_key="k-1")
    again, created_again = submit(
        officer, idempotency_key="k-1", application_row=dict(reversed(ROW.items()))
    )
    assert created and not created_again and again.pk == first.pk
    assert LoanApplication.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.APPLICATION_SUBMITTED).count() == 1


def test_same_key_with_another_body_is_a_conflict(officer, other_officer, active_model_row) -> None:
    first, _ = submit(officer, idempotency_key="k-1")
    with pytest.raises(services.IdempotencyConflict) as caught:
        submit(officer, idempotency_key="k-1", application_row={**ROW, "AMT_CREDIT": 400000})
    assert caught.value.application.pk == first.pk
    # Keys are per client: another officer may use the same key for their own application.
    other, created = submit(other_officer, idempotency_key="k-1")
    assert created and other.pk != first.pk


def test_losing_the_race_on_the_key_returns_the_winner(officer, active_model_row, monkeypatch):
    """The look-up misses (the twin request has not committed yet) and the unique constraint
    settles it: the loser rolls back its own rows and returns the winner's application."""
    winner, _ = submit(officer, idempotency_key="race")
    real_lookup = services._application_for_key
    calls = []

    def miss_once(actor, key):
        calls.append(key)
        return None if len(calls) == 1 else real_lookup(actor, key)

    monkeypatch.setattr(services, "_application_for_key", miss_once)
    loser, created = submit(officer, idempotency_key="race")
    assert not created and loser.pk == winner.pk
    assert Applicant.objects.count() == 1 and LoanApplication.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_requests_with_one_key_make_one_application(officer) -> None:
    ModelVersionFactory(version="row-only", status="active")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait(5)
            results.append(submit(officer, idempotency_key="twins", enqueue=False))
        except Exception as error:  # collected for the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(created for _, created in results) == [False, True]
    assert len({application.pk for application, _ in results}) == 1
    assert LoanApplication.objects.count() == 1 and Applicant.objects.count() == 1


@pytest.mark.parametrize("persona", ["model_admin", "compliance"])
def test_roles_without_the_permission_cannot_submit(request, persona, active_model_row) -> None:
    with pytest.raises(PermissionDenied):
        submit(request.getfixturevalue(persona))
    assert not LoanApplication.objects.exists()


def test_nothing_is_saved_without_an_active_model(officer) -> None:
    with pytest.raises(registry.NoActiveModel):
        submit(officer)
    assert not LoanApplication.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_broker_outage_leaves_a_whole_submitted_application(
    officer, active_model_row, monkeypatch
) -> None:
    """The enqueue runs after commit; when the broker refuses it, the application, applicant
    and audit event are all there (no claim, no decision) and the caller learns its id."""
    from kombu.exceptions import OperationalError

    from credscope_site.celery import app

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", broker_down)
    saved, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        with pytest.raises(ApplicationQueueUnavailable) as caught:
            submit(officer)
    finally:
        app.conf.task_always_eager = saved
    application = LoanApplication.objects.get(pk=caught.value.application_id)
    assert application.status == LoanApplication.Status.SUBMITTED
    assert application.scoring_claim == "" and not Decision.objects.exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.APPLICATION_SUBMITTED, target_id=str(application.pk)
    ).exists()


def test_officers_see_their_own_compliance_sees_all(
    officer, other_officer, compliance, model_admin, active_model_row
):
    mine, _ = submit(officer)
    theirs, _ = submit(other_officer)
    assert list(selectors.application_list_for(user=officer)) == [mine]
    assert {a.pk for a in selectors.application_list_for(user=compliance)} == {mine.pk, theirs.pk}
    assert not selectors.application_list_for(user=model_admin).exists()
    with pytest.raises(LoanApplication.DoesNotExist):
        selectors.application_get_for(user=officer, application_id=theirs.pk)
    assert selectors.application_get_for(user=compliance, application_id=theirs.pk) == theirs


def test_list_filters_and_search(officer, active_model_row) -> None:
    ada, _ = submit(officer, full_name="Ada Lovelace", external_id=4242)
    submit(officer, full_name="Alan Turing")
    assert list(selectors.application_list_for(user=officer, search="lovelace")) == [ada]
    assert list(selectors.application_list_for(user=officer, search="4242")) == [ada]
    assert selectors.application_list_for(user=officer, status="SUBMITTED").count() == 2
    assert not selectors.application_list_for(user=officer, status="DECIDED").exists()
    assert not selectors.application_list_for(user=officer, outcome="APPROVE").exists()
    today = ada.submitted_at.date()
    assert selectors.application_list_for(user=officer, date_from=today, date_to=today).count() == 2
