"""A batch's staged rows are stored as compact JSON bytes and read back as validated,
including the intakes a deployment finds waiting when it migrates."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from scoring.models import BatchIntake, BatchJob, intake_document, intake_lines
from tests.factories import UserFactory

BEFORE = ("scoring", "0013_lz4_batch_documents")
AFTER = ("scoring", "0014_batch_intake_document")


def generated_lines(count: int, seed: int = 7) -> list[tuple]:
    """Rows as validation leaves them: floats of any size and precision, integers beyond
    float precision, words with quotes and accents, missing columns left out."""
    rng = random.Random(seed)
    lines = []
    for number in range(1, count + 1):
        row = {
            "NAME_CONTRACT_TYPE": rng.choice(["Cash loans", "Revolving loans"]),
            "AMT_INCOME_TOTAL": rng.uniform(1, 1e9),
            "EXT_SOURCE_1": rng.random() / 10 ** rng.randint(0, 12),
            "DAYS_BIRTH": -rng.randint(7000, 25000),
            "CNT_CHILDREN": rng.randint(0, 5),
            "ORGANIZATION_TYPE": 'Business "Entity" Type 3, ščř',
        }
        for name in rng.sample(sorted(row), rng.randint(0, 3)):
            del row[name]  # missing: left out of the row, as validation leaves it
        external_id = rng.choice([None, rng.randint(100_000, 2**53 + 11)])
        lines.append((number, row, external_id, rng.choice(["", "Jana Nováková", 'O"Brien'])))
    return lines


def test_staged_rows_read_back_exactly_as_validated() -> None:
    lines = generated_lines(500)
    read = intake_lines(memoryview(intake_document(lines)))
    assert read == lines
    # A float stays a float (1e16 is not read back as an integer), an integer an integer.
    kinds = [{name: type(value) for name, value in row.items()} for _, row, _, _ in read]
    assert kinds == [{name: type(value) for name, value in row.items()} for _, row, _, _ in lines]


def test_a_value_json_cannot_hold_is_refused_not_stored() -> None:
    with pytest.raises(ValueError):
        intake_document([(1, {"AMT_INCOME_TOTAL": float("nan")}, None, "")])


def column_compression(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass"
            " AND attname = %s",
            [table, column],
        )
        return cursor.fetchone()[0]


# Serialized rollback, as every transactional test here (see conftest's worker fixture).
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_intakes_waiting_at_migration_are_carried_over_and_back() -> None:
    lines = [list(line) for line in generated_lines(40)]
    batch = BatchJob.objects.create(created_by=UserFactory(), filename="waiting.csv", total_rows=40)
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        old = executor.loader.project_state([BEFORE]).apps.get_model("scoring", "BatchIntake")
        old.objects.create(batch_id=batch.pk, first_row=1, last_row=40, rows=lines)
        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])
        carried = executor.loader.project_state([AFTER]).apps.get_model("scoring", "BatchIntake")
        document = carried.objects.get(batch_id=batch.pk).document
        assert intake_lines(document) == [tuple(line) for line in lines]
        executor = MigrationExecutor(connection)
        executor.migrate([BEFORE])  # and back: a rollback keeps them too, stored as before
        assert old.objects.get(batch_id=batch.pk).rows == lines
        assert column_compression("scoring_batchintake", "rows") == "l"  # lz4, as 0013 set
    finally:
        MigrationExecutor(connection).migrate(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
    intake = BatchIntake.objects.get(batch=batch)
    assert intake.lines == [tuple(line) for line in lines]
