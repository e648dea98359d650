"""`generate_homecredit` and `load_homecredit`: thin doors with precise failures."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from scoring.ml.data.load import CACHE_MANIFEST, load_tables
from scoring.ml.schema.tables import TABLE_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("commands") / "gen"
    stdout = io.StringIO()
    call_command(
        "generate_homecredit",
        "--scale",
        "0.001",
        "--seed",
        "3",
        "--out",
        str(out),
        "--format",
        "csv",
        stdout=stdout,
        stderr=io.StringIO(),
    )
    text = stdout.getvalue()
    for figure in ("default rate (train)", "oracle AUC (train)", "application-only oracle AUC"):
        assert figure in text
    return out


def test_generate_writes_the_eight_tables_and_the_oracle(generated) -> None:
    for name in TABLE_NAMES:
        assert (generated / f"{name}.csv").stat().st_size > 0
    assert (generated / "oracle" / "oracle.parquet").exists()


def test_load_writes_the_cache_to_the_default_folder(generated, tmp_path) -> None:
    stdout = io.StringIO()
    with override_settings(CREDSCOPE_DATA_DIR=tmp_path / "data"):
        call_command(
            "load_homecredit", "--source", str(generated), stdout=stdout, stderr=io.StringIO()
        )
    cache = tmp_path / "data" / "cache"
    assert (cache / CACHE_MANIFEST).exists()
    # Built once here, with the cache, not by the first web or worker process that needs it.
    assert (cache / "history_index" / "index.json").is_file()
    assert "0 error(s)" in stdout.getvalue()
    assert len(load_tables(cache, ["application_train"])["application_train"]) == 308


def test_load_fails_with_the_precise_message_and_writes_nothing(generated, tmp_path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in TABLE_NAMES:
        (broken / f"{name}.csv").write_bytes((generated / f"{name}.csv").read_bytes())
    rows = list(csv.reader((broken / "application_train.csv").open(newline="")))
    at = rows[0].index("AMT_CREDIT")
    rows = [r[:at] + r[at + 1 :] for r in rows]
    with (broken / "application_train.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "cache"
    with pytest.raises(CommandError, match="application_train: missing column AMT_CREDIT"):
        call_command(
            "load_homecredit",
            "--source",
            str(broken),
            "--out",
            str(out),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not out.exists()
    # As a process: a non-zero exit and a one-line message, not a traceback.
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "load_homecredit",
            "--source",
            str(broken),
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert (
        "CommandError: validation failed: application_train: missing column AMT_CREDIT"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_commands_reject_bad_options(tmp_path) -> None:
    with pytest.raises(CommandError, match="scale must be in"):
        call_command(
            "generate_homecredit",
            "--scale",
            "-1",
            "--out",
            str(tmp_path / "x"),
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("load_homecredit", "--source", str(tmp_path / "nowhere"), stdout=io.StringIO())
