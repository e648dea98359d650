"""`bulk_insert` stores exactly what `bulk_create` stores, through COPY on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

from applicants.models import Applicant, LoanApplication
from audits import trail
from audits.actions import AuditAction
from audits.models import AuditEvent
from credscope_site import bulk
from credscope_site.bulk import COPY_FROM_ROWS, bulk_insert
from scoring.models import Decision

pytestmark = pytest.mark.django_db

ROWS = COPY_FROM_ROWS + 50


def applicants(officer, tag: str) -> list[Applicant]:
    return [
        Applicant(
            full_name=f"{tag} O'Brien \\ \t\u00e9 {n}" if n % 3 else "",
            external_id=None if n % 4 == 0 else 10**15 + n,
            code_gender="F" if n % 2 else "M",
            days_birth=-10000 - n,
            created_by=officer,
        )
        for n in range(ROWS)
    ]


def applications(officer, people: list[Applicant]) -> list[LoanApplication]:
    return [
        LoanApplication(
            applicant=person,
            created_by=officer,
            channel=LoanApplication.Channel.BATCH,
            amt_income_total=Decimal("180000.50"),
            amt_credit=Decimal(300000 + n),
            amt_annuity=None if n % 5 == 0 else Decimal("12345.67"),
            application_row={"AMT_CREDIT": 300000.0 + n, "NAME": 'quote " and \\ \n', "X": None},
            history={"bureau": [{"SK_ID_BUREAU": n, "AMT": -0.0}]} if n % 7 == 0 else {},
        )
        for n, person in enumerate(people)
    ]


def stored(model, objects) -> list[dict]:
    ignored = {"id", "applicant_id", "created_at", "submitted_at", "updated_at"}
    rows = model.objects.filter(pk__in=[o.pk for o in objects]).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in ignored} for row in rows]


@pytest.mark.postgres
def test_copy_stores_what_bulk_create_stores_and_sets_each_key(officer) -> None:
    started = timezone.now()
    by_copy = bulk_insert(Applicant, applicants(officer, "x"))
    by_create = Applicant.objects.bulk_create(applicants(officer, "x"))
    assert stored(Applicant, by_copy) == stored(Applicant, by_create)
    # Keys in the objects' order, as the database has them; the objects are saved ones.
    assert [a.pk for a in by_copy] == sorted(a.pk for a in by_copy)
    assert not any(a._state.adding for a in by_copy)
    assert Applicant.objects.get(pk=by_copy[5].pk).external_id == by_copy[5].external_id

    with CaptureQueriesContext(connection) as captured:
        copied = bulk_insert(LoanApplication, applications(officer, by_copy))
    created = LoanApplication.objects.bulk_create(applications(officer, by_create))
    # One statement reserves the keys; the rows themselves go through COPY.
    assert len(captured.captured_queries) == 1
    assert stored(LoanApplication, copied) == stored(LoanApplication, created)
    saved = LoanApplication.objects.get(pk=copied[7].pk)
    assert saved.applicant_id == by_copy[7].pk
    assert saved.submitted_at >= started  # auto_now_add, as bulk_create sets it
    assert saved.history == {"bureau": [{"SK_ID_BUREAU": 7, "AMT": -0.0}]}


def test_small_inserts_and_other_databases_use_bulk_create(officer) -> None:
    few = applicants(officer, "y")[: COPY_FROM_ROWS - 1]
    with CaptureQueriesContext(connection) as captured:
        saved = bulk_insert(Applicant, few)
    assert len(captured.captured_queries) == 1 and "INSERT" in captured.captured_queries[0]["sql"]
    assert Applicant.objects.filter(pk__in=[a.pk for a in saved]).count() == len(few)


@pytest.mark.parametrize("rows", [ROWS, COPY_FROM_ROWS - 1], ids=["copy", "bulk_create"])
def test_fields_as_given_keep_the_objects_value_over_their_own(officer, rows) -> None:
    """A batch's rows saved by a worker keep the upload's time as their submission time."""
    uploaded = timezone.now() - timezone.timedelta(minutes=7)
    people = bulk_insert(Applicant, applicants(officer, "given")[:rows])
    loans = applications(officer, people)
    for loan in loans:
        loan.submitted_at = uploaded
    saved = bulk_insert(LoanApplication, loans, as_given=("submitted_at",))
    assert {loan.submitted_at for loan in saved} == {uploaded}
    stored_times = LoanApplication.objects.filter(pk__in=[loan.pk for loan in saved])
    assert set(stored_times.values_list("submitted_at", flat=True)) == {uploaded}
    # Fields not named still set their own: updated_at is auto_now.
    assert all(loan.updated_at > uploaded for loan in stored_times)


@pytest.mark.postgres
def test_each_field_sends_what_its_own_preparation_gives() -> None:
    """The shortcut for values a field would hand back unchanged never changes what COPY
    writes: over every field of every CredScope model, for values of the plain types and of
    others that the field converts (an int for a text field, a str for an integer field...).

    Compared as COPY's text encoding and as its binary encoding for the column's type: an
    integer field's own preparation wraps an int in psycopg's Int4 or Int8, which COPY writes
    exactly as the int."""
    connection.ensure_connection()
    dumps = Transformer(context=connection.connection)

    def copy_text(value):
        return None if value is None else bytes(dumps.get_dumper(value, PyFormat.TEXT).dump(value))

    def copy_binary(value, oid):
        if value is None:
            return None
        dumper = connection.connection.adapters.get_dumper_by_oid(oid, pq.Format.BINARY)
        return bytes(dumper(type(value), connection.connection).dump(value))

    samples = ["text", "", "7", 7, 0, -3, 2**40, 2.5, 3.0, True, False, None]
    checked = 0
    for model in apps.get_models():
        if model.__module__.split(".")[0] not in {"applicants", "scoring", "audits"}:
            continue
        for field in model._meta.concrete_fields:
            if not bulk._unchanged_types(field):
                continue
            read = bulk._value_reader(field, connection)
            for value in samples:
                obj = model.__new__(model)
                obj.__dict__[field.attname] = value
                try:
                    expected = field.get_db_prep_save(field.pre_save(obj, True), connection)
                except Exception as error:  # the field refuses the value: so must the shortcut
                    with pytest.raises(type(error)):
                        read(obj)
                    continue
                assert copy_text(read(obj)) == copy_text(expected), (field, value)
                if oids := bulk._binary_types(connection, [field]):
                    assert copy_binary(read(obj), oids[0]) == copy_binary(expected, oids[0]), (
                        field,
                        value,
                    )
                checked += 1
    assert checked > 300


@pytest.mark.postgres
def test_credscopes_bulk_tables_go_in_binary_and_other_column_types_as_text() -> None:
    """Every table CredScope inserts in bulk is copied in the binary format (no number,
    timestamp or hex parsed by the server); a column of a type outside the list, such as an
    address, sends its table as text."""
    for model in (Applicant, LoanApplication, AuditEvent, Decision):
        assert bulk._binary_types(connection, list(model._meta.concrete_fields)), model
    address = models.GenericIPAddressField()
    assert bulk._binary_types(connection, [Applicant._meta.pk, address]) is None


@pytest.mark.postgres
def test_audit_events_copied_in_binary_read_back_exactly(officer) -> None:
    """The trail's bulk append (a batch's events) goes through the binary COPY, and what it
    stored hashes again to the chain it computed: payloads, names, times, keys unchanged."""
    saved = trail.record_many(
        [
            {
                "action": AuditAction.APPLICATION_SUBMITTED,
                "actor": officer,
                "target_type": "bulk",
                "target_id": n,
                "payload": {"n": n, "text": 'quote " \\ \n \u00e9', "x": 0.1 + n, "none": None},
            }
            for n in range(ROWS)
        ]
    )
    assert len(saved) == ROWS
    assert trail.verify().intact
    last = AuditEvent.objects.get(pk=saved[-1].pk)
    assert last.payload == saved[-1].payload
    assert (last.hash, last.occurred_at, last.actor_id) == (
        saved[-1].hash,
        saved[-1].occurred_at,
        officer.pk,
    )


@pytest.mark.postgres
def test_large_documents_are_stored_with_lz4_and_read_back_whole(officer) -> None:
    """Submitted rows large enough to be compressed are compressed with lz4 (the migrations
    set it on every bulky document column), and read back exactly as written."""
    people = bulk_insert(Applicant, applicants(officer, "lz4")[:3])
    rows = applications(officer, people)
    for n, row in enumerate(rows):
        row.application_row = {f"COLUMN_{i}": f"value {i} of row {n}" for i in range(400)}
    saved = bulk_insert(LoanApplication, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(application_row) FROM applicants_loanapplication"
            " WHERE id = ANY(%s)",
            [[a.pk for a in saved]],
        )
        assert [method for (method,) in cursor.fetchall()] == ["lz4"] * 3
    for row in rows:
        assert LoanApplication.objects.get(pk=row.pk).application_row == row.application_row


@pytest.mark.postgres
def test_every_bulky_document_column_is_set_to_lz4() -> None:
    """The columns written in bulk by uploads and chunk tasks, and read back by workers:
    pglz cost PostgreSQL about half a second of CPU per 10,000-row upload's staged rows."""
    bulky = {
        ("applicants_loanapplication", "application_row"),
        ("applicants_loanapplication", "history"),
        ("audits_auditevent", "payload"),
        ("scoring_batchintake", "document"),
        ("scoring_batchintake", "external_ids"),
        ("scoring_batchjob", "row_errors"),
        ("scoring_batchjob", "row_identities"),
        ("scoring_batchjob", "row_warnings"),
        ("scoring_decision", "reasons"),
        ("scoring_decision", "contributions"),
        ("scoring_decision", "family_totals"),
        ("scoring_decision", "feature_row"),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attname FROM pg_attribute"
            " WHERE attcompression = 'l' AND attrelid::regclass::text = ANY(%s)",
            [sorted({table for table, _ in bulky})],
        )
        assert bulky <= set(cursor.fetchall())
