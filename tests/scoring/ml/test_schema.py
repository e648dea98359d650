"""The schema module against the real Kaggle rows in ../shared (the schema's truth)."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

import scoring.ml.schema.tables as schema_module
from scoring.ml.schema.tables import (
    DAYS_SENTINEL,
    FULL_DATA_ONLY,
    PREVIOUS_SENTINEL_COLUMNS,
    QUIRKS,
    TABLE_NAMES,
    TABLES,
    Kind,
)

_INFERRED = {pl.Int64: Kind.INT, pl.Float64: Kind.FLOAT, pl.String: Kind.CATEGORY}


def _family(table: str) -> str:
    return "application" if table.startswith("application") else table


@pytest.fixture(scope="module")
def sample(home_credit_sample_dir: Path) -> dict[str, pl.DataFrame]:
    return {
        name: pl.read_csv(home_credit_sample_dir / f"{name}.csv.gz", infer_schema_length=None)
        for name in TABLE_NAMES
    }


def test_there_are_exactly_the_eight_kaggle_tables() -> None:
    assert set(TABLE_NAMES) == {
        "application_train",
        "application_test",
        "bureau",
        "bureau_balance",
        "previous_application",
        "POS_CASH_balance",
        "installments_payments",
        "credit_card_balance",
    }
    assert len(TABLES["application_train"].columns) == 122
    assert len(TABLES["application_test"].columns) == 121


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_column_names_and_order_equal_the_real_header(home_credit_sample_dir, table) -> None:
    with gzip.open(home_credit_sample_dir / f"{table}.csv.gz", "rt", encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    assert TABLES[table].column_names == tuple(header)


def test_types_are_what_the_real_rows_infer_to(sample) -> None:
    for name, frame in sample.items():
        for column in TABLES[name].columns:
            inferred = _INFERRED[frame.schema[column.name]]
            assert column.kind is inferred, (name, column.name, inferred)


def test_never_empty_columns_are_never_empty_in_the_real_rows(sample) -> None:
    for name, frame in sample.items():
        for column in TABLES[name].columns:
            if not column.nullable:
                assert frame[column.name].null_count() == 0, (name, column.name)


def test_real_vocabularies_are_within_the_schema(sample) -> None:
    for name, frame in sample.items():
        for column in TABLES[name].columns:
            if column.kind is Kind.CATEGORY:
                seen = set(frame[column.name].drop_nulls().unique().to_list())
                assert seen <= set(column.vocabulary), (
                    name,
                    column.name,
                    seen - set(column.vocabulary),
                )


def test_full_data_only_values_are_in_the_vocabulary_but_not_in_the_sample(sample) -> None:
    for (family, column), values in FULL_DATA_ONLY.items():
        tables = [t for t in TABLE_NAMES if _family(t) == family]
        assert tables, family
        for table in tables:
            assert set(values) <= set(TABLES[table].column(column).vocabulary)
            assert not set(values) & set(sample[table][column].drop_nulls().unique().to_list())


def test_xna_and_xap_are_vocabulary_values_not_missing_values() -> None:
    previous = TABLES["previous_application"]
    assert "XAP" in previous.column("CODE_REJECT_REASON").vocabulary
    assert "XNA" in previous.column("NAME_CONTRACT_TYPE").vocabulary
    assert "XNA" in TABLES["application_train"].column("ORGANIZATION_TYPE").vocabulary
    assert "XNA" in TABLES["application_train"].column("CODE_GENDER").vocabulary


def test_primary_keys_are_unique_in_the_real_rows(sample) -> None:
    for name, table in TABLES.items():
        if table.primary_key:
            assert sample[name][table.primary_key].is_duplicated().sum() == 0, name
    assert {t.primary_key for t in TABLES.values()} >= {"SK_ID_CURR", "SK_ID_BUREAU", "SK_ID_PREV"}


def test_composite_keys_of_the_monthly_tables_hold_in_the_real_rows(sample) -> None:
    keyed = {name: t.natural_key for name, t in TABLES.items() if t.natural_key}
    assert set(keyed) == {"bureau_balance", "POS_CASH_balance", "credit_card_balance"}
    for name, key in keyed.items():
        frame = sample[name]
        assert frame.select(key).is_duplicated().sum() == 0, name
    # installments_payments has several rows per instalment (partial payments): no key.
    installments = sample["installments_payments"]
    key = ["SK_ID_PREV", "NUM_INSTALMENT_VERSION", "NUM_INSTALMENT_NUMBER"]
    assert installments.select(key).is_duplicated().sum() > 0
    assert not TABLES["installments_payments"].natural_key


def test_foreign_keys_name_existing_parents_and_columns() -> None:
    children = set()
    for name, table in TABLES.items():
        for fk in table.foreign_keys:
            children.add((name, fk.column))
            assert fk.column in table.column_names
            for parent in fk.parents:
                assert TABLES[parent].primary_key == fk.parent_column
    assert ("bureau_balance", "SK_ID_BUREAU") in children
    for history in ("POS_CASH_balance", "installments_payments", "credit_card_balance"):
        assert (history, "SK_ID_PREV") in children
        assert (history, "SK_ID_CURR") in children
        assert TABLES[history].client_matches_previous
    assert ("bureau", "SK_ID_CURR") in children
    assert ("previous_application", "SK_ID_CURR") in children


def test_the_quirks_are_documented_in_one_place(sample) -> None:
    doc = schema_module.__doc__
    for token in ("365243", "XNA", "XAP", "CODE_GENDER", "MONTHS_BALANCE", "DAYS_EMPLOYED"):
        assert token in doc
    described = {column for quirk in QUIRKS for column in quirk.columns}
    assert "DAYS_EMPLOYED" in described
    assert set(PREVIOUS_SENTINEL_COLUMNS) <= described
    # The quirks are real: the sentinel appears where the schema says it does.
    train = sample["application_train"]
    assert (train["DAYS_EMPLOYED"] == DAYS_SENTINEL).mean() > 0.1
    previous = sample["previous_application"]
    for column in PREVIOUS_SENTINEL_COLUMNS:
        assert (previous[column] == DAYS_SENTINEL).sum() > 0, column
