"""The loader and validator: what it accepts, what it rejects and with which message."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.ml.data.load import CACHE_MANIFEST, DataValidationError, build_cache, load_tables
from scoring.ml.schema.tables import SCHEMA_VERSION, TABLE_NAMES, TABLES, Kind

CSV_WHERE = "(line {line} of application_train.csv, counting the header as line 1)"


def _copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in TABLE_NAMES:
        shutil.copy(source / f"{name}.csv", target / f"{name}.csv")
    return target


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def _edit(folder: Path, table: str, edit) -> list[list[str]]:
    rows = _rows(folder / f"{table}.csv")
    rows = edit(rows)
    _write(folder / f"{table}.csv", rows)
    return rows


@pytest.fixture
def broken(tiny_csv, tmp_path) -> Path:
    return _copy(tiny_csv[0], tmp_path / "broken")


# --- accepted inputs ----------------------------------------------------------------------


def test_accepts_the_real_sample_and_reports_its_orphans(home_credit_sample_dir, tmp_path) -> None:
    out = tmp_path / "cache"
    report = build_cache(home_credit_sample_dir, out)
    assert report.ok, report.errors
    assert report.tables["application_train"].rows == 10_556
    assert report.tables["bureau_balance"].rows == 1_127_657
    # History rows of clients outside the sample are kept and counted, as warnings.
    assert report.tables["bureau"].orphans["SK_ID_CURR"] > 0
    assert report.tables["POS_CASH_balance"].orphans["SK_ID_PREV"] > 0
    assert any("orphans, kept" in w for w in report.warnings)
    manifest = json.loads((out / CACHE_MANIFEST).read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["tables"]["bureau"]["rows"] == report.tables["bureau"].rows
    source = manifest["tables"]["bureau"]["source"]
    assert source["file"] == "bureau.csv.gz" and len(source["sha256"]) == 64
    assert manifest["report"]["ok"] is True


def test_loaded_tables_have_the_schema_dtypes(home_credit_sample_dir, tmp_path) -> None:
    out = tmp_path / "cache"
    assert build_cache(home_credit_sample_dir, out).ok
    tables = load_tables(out)
    assert list(tables) == list(TABLE_NAMES)
    for name, frame in tables.items():
        assert tuple(frame.columns) == TABLES[name].column_names
        for column in TABLES[name].columns:
            dtype = frame[column.name].dtype
            if column.kind is Kind.CATEGORY:
                assert isinstance(dtype, pd.CategoricalDtype), (name, column.name)
                assert list(dtype.categories)[: len(column.vocabulary)] == list(column.vocabulary)
            else:
                assert str(dtype) == column.pandas_dtype, (name, column.name, dtype)
    train = tables["application_train"]
    # Quirks are kept exactly as written.
    assert (train["DAYS_EMPLOYED"] == 365243).sum() > 1000
    assert train.loc[train.SK_ID_CURR == 100003, "AMT_CREDIT"].item() == 1293502.5


def test_accepts_the_generator_csv_and_carries_its_oracle(tiny_csv, tmp_path) -> None:
    folder, summary = tiny_csv
    oracle = folder / "oracle" / "oracle.parquet"
    report = build_cache(folder, tmp_path / "cache")
    assert report.ok, report.errors
    assert report.warnings == []
    # The oracle is not a Kaggle table: it is copied beside the cache, never validated as one.
    assert (tmp_path / "cache" / "oracle" / "oracle.parquet").read_bytes() == oracle.read_bytes()
    for name in TABLE_NAMES:
        assert report.tables[name].rows == summary.rows[name]
        assert not any(report.tables[name].orphans.values())
    cached = load_tables(tmp_path / "cache")
    raw = load_tables(folder)  # raw Kaggle files: read and validated on the fly
    assert list(raw) == list(TABLE_NAMES)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(raw[name], cached[name])


def test_reads_gzip_zip_and_parquet_alike(tiny_csv, tmp_path) -> None:
    folder = tiny_csv[0]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("application_train", "application_test"):
        with gzip.open(mixed / f"{name}.csv.gz", "wb") as f:
            f.write((folder / f"{name}.csv").read_bytes())
    with zipfile.ZipFile(mixed / "bureau.csv.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(folder / "bureau.csv", "bureau.csv")
    with zipfile.ZipFile(mixed / "home-credit-default-risk.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("bureau_balance", "POS_CASH_balance"):
            z.write(folder / f"{name}.csv", f"data/{name}.csv")
    for name in ("previous_application", "installments_payments", "credit_card_balance"):
        frame = load_tables(folder, [name])[name]
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), mixed / f"{name}.parquet")
    report = build_cache(mixed, tmp_path / "cache")
    assert report.ok, report.errors
    reference = build_cache(folder, tmp_path / "reference")
    for name in TABLE_NAMES:
        assert report.tables[name].rows == reference.tables[name].rows
    assert report.tables["bureau"].source == "bureau.csv.zip:bureau.csv"
    mixed_tables = load_tables(tmp_path / "cache")
    reference_tables = load_tables(tmp_path / "reference")
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(mixed_tables[name], reference_tables[name])


# --- rejected inputs: precise messages, nothing written ------------------------------------


def test_rejects_a_dropped_column_naming_table_and_column(broken, tmp_path) -> None:
    def drop(rows):
        at = rows[0].index("AMT_CREDIT")
        return [r[:at] + r[at + 1 :] for r in rows]

    _edit(broken, "application_train", drop)
    out = tmp_path / "cache"
    report = build_cache(broken, out)
    assert "application_train: missing column AMT_CREDIT" in report.errors
    assert not out.exists()
    assert not list(tmp_path.glob(".cache*")), "no temporary folder is left behind"


def test_rejects_a_duplicated_sk_id_curr_with_its_rows(broken, tmp_path) -> None:
    rows = _edit(broken, "application_train", lambda rows: [*rows, rows[2]])
    duplicate, last = rows[2][0], len(rows) - 1
    report = build_cache(broken, tmp_path / "cache")
    expected = (
        f"application_train: duplicate SK_ID_CURR {duplicate} appears 2 times: "
        f"row 2 {CSV_WHERE.format(line=3)}, row {last} {CSV_WHERE.format(line=last + 1)}"
    )
    assert expected in report.errors
    assert report.tables["application_train"].duplicate_keys == 1
    assert not (tmp_path / "cache").exists()


def test_rejects_a_non_numeric_amt_credit_with_row_and_value(broken, tmp_path) -> None:
    def corrupt(rows):
        rows[3][rows[0].index("AMT_CREDIT")] = "12O000.5"
        return rows

    _edit(broken, "application_train", corrupt)
    report = build_cache(broken, tmp_path / "cache")
    expected = (
        f"application_train: column AMT_CREDIT, row 3 {CSV_WHERE.format(line=4)}: "
        "value '12O000.5' is not a number"
    )
    assert report.errors == [expected]
    assert report.tables["application_train"].unparsable == {"AMT_CREDIT": 1}
    with pytest.raises(DataValidationError, match=r"value '12O000\.5' is not a number"):
        load_tables(broken, ["application_train"])


def test_counts_every_bad_value_and_quotes_the_first_ones(broken, tmp_path) -> None:
    def corrupt(rows):
        at = rows[0].index("SK_DPD")
        for row in rows[1:9]:
            row[at] = "n/a"
        rows[10][at] = "1.5"  # not an integer either
        return rows

    _edit(broken, "POS_CASH_balance", corrupt)
    report = build_cache(broken, tmp_path / "cache")
    assert report.tables["POS_CASH_balance"].unparsable == {"SK_DPD": 9}
    first = "POS_CASH_balance: column SK_DPD, row 1 (line 2 of POS_CASH_balance.csv, "
    assert any(
        e.startswith(first) and e.endswith("value 'n/a' is not an integer") for e in report.errors
    )
    assert any("has 9 unparsable values" in e for e in report.errors)


def test_rejects_missing_files_extra_columns_and_bad_targets(broken, tmp_path) -> None:
    (broken / "bureau.csv").unlink()
    _edit(broken, "application_test", lambda rows: [[*r, "x"] for r in rows])

    def bad_target(rows):
        rows[5][1] = "2"
        return rows

    _edit(broken, "application_train", bad_target)
    report = build_cache(broken, tmp_path / "cache")
    assert any(e.startswith("missing file for table bureau") for e in report.errors)
    assert "application_test: unexpected column 'x'" in report.errors
    assert any(
        e.startswith("application_train: column TARGET must be 0 or 1") for e in report.errors
    )


def test_rejects_an_empty_integer(broken, tmp_path) -> None:
    def empty(rows):
        rows[4][rows[0].index("DAYS_BIRTH")] = ""
        return rows

    _edit(broken, "application_train", empty)
    report = build_cache(broken, tmp_path / "cache")
    assert any(
        e.startswith("application_train: column DAYS_BIRTH has 1 empty values (first at row 4")
        for e in report.errors
    )


def test_rejects_a_client_in_both_application_files(broken, tmp_path) -> None:
    train_id = _rows(broken / "application_train.csv")[1][0]
    _edit(broken, "application_test", lambda rows: [*rows, [train_id, *rows[1][1:]]])
    report = build_cache(broken, tmp_path / "cache")
    assert any(
        e.startswith("application_test: 1 SK_ID_CURR values also appear in application_train")
        for e in report.errors
    )


def test_warns_but_accepts_reordered_columns_unknown_categories_and_repeated_months(
    broken, tmp_path
) -> None:
    _edit(broken, "bureau", lambda rows: [[r[1], r[0], *r[2:]] for r in rows])

    def new_category(rows):
        rows[1][rows[0].index("CREDIT_TYPE")] = "Space loan"
        return rows

    _edit(broken, "bureau", new_category)
    _edit(broken, "bureau_balance", lambda rows: [*rows, rows[1]])
    out = tmp_path / "cache"
    report = build_cache(broken, out)
    assert report.ok, report.errors
    assert any("different order" in w for w in report.warnings)
    assert any("'Space loan' (1 rows)" in w for w in report.warnings)
    assert report.tables["bureau_balance"].duplicate_keys == 1
    bureau = load_tables(out, ["bureau"])["bureau"]
    assert tuple(bureau.columns) == TABLES["bureau"].column_names
    assert list(bureau["CREDIT_TYPE"].cat.categories)[-1] == "Space loan"
    assert (bureau["CREDIT_TYPE"] == "Space loan").sum() == 1


def test_parquet_text_in_a_numeric_column_is_located(tiny_parquet, tmp_path) -> None:
    folder = tmp_path / "parquet"
    shutil.copytree(tiny_parquet[0], folder)
    table = pq.read_table(folder / "bureau.parquet")
    amounts = table.column("AMT_CREDIT_SUM").to_pylist()
    text = ["" if v is None else repr(v) for v in amounts]
    text[6] = "lots"
    index = table.column_names.index("AMT_CREDIT_SUM")
    table = table.set_column(index, "AMT_CREDIT_SUM", pa.array(text))
    pq.write_table(table, folder / "bureau.parquet")
    report = build_cache(folder, tmp_path / "cache")
    assert (
        "bureau: column AMT_CREDIT_SUM, row 7 of bureau.parquet (counting data rows from 1): "
        "value 'lots' is not a number"
    ) in report.errors


def test_a_failed_build_keeps_the_previous_cache(broken, tiny_csv, tmp_path) -> None:
    out = tmp_path / "cache"
    assert build_cache(tiny_csv[0], out).ok
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (broken / "credit_card_balance.csv").unlink()
    assert not build_cache(broken, out).ok
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_refuses_to_overwrite_a_folder_that_is_not_a_cache(tiny_csv, tmp_path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not a CredScope cache"):
        build_cache(tiny_csv[0], out)
    with pytest.raises(ValueError, match="must not be, or contain, the source"):
        build_cache(tiny_csv[0], tiny_csv[0])
    assert (out / "notes.txt").read_text() == "keep me"


def test_load_tables_checks_the_cache_schema_version(tiny_csv, tmp_path) -> None:
    out = tmp_path / "cache"
    assert build_cache(tiny_csv[0], out).ok
    manifest = json.loads((out / CACHE_MANIFEST).read_text())
    manifest["schema_version"] = "0"
    (out / CACHE_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DataValidationError, match="rebuild it with load_homecredit"):
        load_tables(out)
    with pytest.raises(ValueError, match="unknown table"):
        load_tables(tiny_csv[0], ["applications"])


def test_history_rows_keep_their_client_consistency_check(broken, tmp_path) -> None:
    def move(rows):
        at = rows[0].index("SK_ID_CURR")
        rows[1][at] = str(int(rows[1][at]) + 1)
        return rows

    _edit(broken, "installments_payments", move)
    report = build_cache(broken, tmp_path / "cache")
    assert report.ok
    assert report.tables["installments_payments"].client_mismatches == 1
    assert np.isclose(report.tables["installments_payments"].orphans["SK_ID_PREV"], 0)


def test_unreadable_files_are_errors_not_crashes(broken, tmp_path) -> None:
    def ragged(rows):
        rows[7].append("surplus")
        return rows

    _edit(broken, "application_train", ragged)
    data = (broken / "bureau.csv").read_bytes()
    (broken / "bureau.csv").unlink()
    (broken / "bureau.csv.gz").write_bytes(gzip.compress(data)[:-200])  # truncated archive
    (broken / "POS_CASH_balance.csv").write_bytes(b"")
    report = build_cache(broken, tmp_path / "cache")
    assert any(
        e.startswith("application_train: cannot read application_train.csv") and "Expected 122" in e
        for e in report.errors
    )
    assert any(e.startswith("bureau: cannot read bureau.csv.gz") for e in report.errors)
    assert "POS_CASH_balance.csv: the file is empty (no header line)" in report.errors
