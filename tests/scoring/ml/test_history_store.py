"""A known applicant's history from the cache equals that applicant's rows of the batch load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoring.ml.data.history_index import INDEX_DIR, INDEX_MANIFEST, HistoryIndex
from scoring.ml.data.history_store import CACHE_MANIFEST, HistoryStore, frames_from_records
from scoring.ml.data.load import build_cache, load_tables
from scoring.ml.features.single import history_values
from scoring.ml.schema.tables import HISTORY_TABLES

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sample_cache(home_credit_sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "cache"
    report = build_cache(home_credit_sample_dir, out)
    assert not report.errors
    return out


@pytest.fixture(scope="module")
def tiny_cache(tiny_parquet, tmp_path_factory):
    """The generator's consistent histories (every table reached for most clients)."""
    out = tmp_path_factory.mktemp("cache") / "tiny"
    assert build_cache(tiny_parquet[0], out).ok
    return out


def rows_in_cache(tables: dict[str, pd.DataFrame], client: int) -> dict[str, pd.DataFrame]:
    """This client's rows of the batch load; bureau_balance through bureau's SK_ID_BUREAU."""
    bureau = tables["bureau"]
    out = {}
    for name in HISTORY_TABLES:
        table = tables[name]
        if name == "bureau_balance":
            mine = bureau.loc[bureau["SK_ID_CURR"] == client, "SK_ID_BUREAU"]
            out[name] = table[table["SK_ID_BUREAU"].isin(mine)].reset_index(drop=True)
        else:
            out[name] = table[table["SK_ID_CURR"] == client].reset_index(drop=True)
    return out


def typed_like_before(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows typed as the store typed them before the index (frames_from_records)."""
    records = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]
    return frames_from_records(name, records)


def sample_clients(tables: dict[str, pd.DataFrame], applicants: pd.Series, count: int) -> list:
    """Known ids with every kind of history, ids with some, and ids with none."""
    seen = {
        name: set(tables[name]["SK_ID_CURR"]) for name in HISTORY_TABLES if name != "bureau_balance"
    }
    ids = list(applicants)
    full = [i for i in ids if all(i in s for s in seen.values())][:count]
    some = [i for i in ids if any(i in s for s in seen.values()) and i not in full][:count]
    none = [i for i in ids if not any(i in s for s in seen.values())][:count]
    return full + some + none


@pytest.mark.parametrize("cache", ["sample_cache", "tiny_cache"])
def test_the_index_gives_each_clients_cached_rows_typed_as_before(cache, request) -> None:
    """For a sample of known ids (with full, partial and no history), every table's frame
    holds exactly the client's rows of the parquet cache in file order, with the dtypes the
    online path always had (bureau_balance reached through the client's bureau credits)."""
    directory = request.getfixturevalue(cache)
    store = HistoryStore(directory)
    tables = load_tables(directory, ("application_train", *HISTORY_TABLES))
    clients = sample_clients(tables, tables["application_train"]["SK_ID_CURR"], 8)
    assert len(clients) >= 12
    reached = {name: 0 for name in HISTORY_TABLES}
    for client in clients:
        history = store.history_for(client)
        assert list(history) == list(HISTORY_TABLES)
        for name, expected in rows_in_cache(tables, client).items():
            reached[name] += len(expected)
            pd.testing.assert_frame_equal(history[name], typed_like_before(name, expected))
            # And the values equal the batch load's (which may carry extra categories).
            pd.testing.assert_frame_equal(
                history[name], expected, check_dtype=False, check_categorical=False
            )
    assert all(reached.values()), f"every table is exercised: {reached}"


@pytest.mark.parametrize("cache", ["sample_cache", "tiny_cache"])
def test_the_columns_scoring_reads_give_the_features_and_records_of_the_frames(
    cache, request
) -> None:
    """Scoring reads a known applicant's history as columns, not frames: the history's
    features (the one-applicant path) and its records (the batch path) must be the ones the
    frames give, to the bit, for applicants with full, partial and no history."""
    directory = request.getfixturevalue(cache)
    store = HistoryStore(directory)
    tables = load_tables(directory, ("application_train", *HISTORY_TABLES))
    clients = sample_clients(tables, tables["application_train"]["SK_ID_CURR"], 8)
    for client in [*clients, 999_999_999]:
        frames, columns = store.history_for(client), store.history_columns_for(client)
        assert {name: len(rows) for name, rows in columns.items()} == {
            name: len(frame) for name, frame in frames.items()
        }
        from_frames, from_columns = history_values(frames), history_values(columns)
        assert from_frames.keys() == from_columns.keys()
        np.testing.assert_array_equal(
            np.array(list(from_columns.values()), dtype=np.float64),
            np.array(list(from_frames.values()), dtype=np.float64),
        )
        for name in HISTORY_TABLES:
            expected = frames_from_records(name, columns[name].records())
            pd.testing.assert_frame_equal(expected, frames[name], check_dtype=False)


def test_unknown_client_gets_empty_typed_frames(sample_cache) -> None:
    store = HistoryStore(sample_cache)
    for client in (999_999_999, -1, 2**63 - 1):
        history = store.history_for(client)
        assert set(history) == set(HISTORY_TABLES)
        for name, frame in history.items():
            assert frame.empty
            pd.testing.assert_frame_equal(frame, frames_from_records(name, []))


def test_load_builds_the_index_with_the_cache(sample_cache) -> None:
    manifest = json.loads((sample_cache / INDEX_DIR / INDEX_MANIFEST).read_text())
    cached = json.loads((sample_cache / CACHE_MANIFEST).read_text())["tables"]
    assert set(manifest["tables"]) == set(HISTORY_TABLES)
    for name in HISTORY_TABLES:
        if name != "bureau_balance":  # its rows of credits missing from bureau are unreachable
            assert manifest["tables"][name]["rows"] == cached[name]["rows"]
    assert not list(sample_cache.glob(f".{INDEX_DIR}*")), "no temporary folder left behind"


def test_a_cache_without_an_index_gets_one_on_first_use(sample_cache, tmp_path, caplog) -> None:
    old = tmp_path / "cache"
    shutil.copytree(sample_cache, old)
    shutil.rmtree(old / INDEX_DIR)
    (old / f".{INDEX_DIR}.tmp-1-dead").mkdir()  # a crashed build's leftovers are ignored
    client = int(load_tables(old, ["bureau"])["bureau"]["SK_ID_CURR"].iloc[0])

    history = HistoryStore(old).history_for(client)

    assert "has no history index: building it now" in caplog.text
    assert (old / INDEX_DIR / INDEX_MANIFEST).is_file()
    expected = HistoryStore(sample_cache).history_for(client)
    for name in HISTORY_TABLES:
        pd.testing.assert_frame_equal(history[name], expected[name])


def test_an_index_of_another_format_is_rebuilt(sample_cache, tmp_path) -> None:
    old = tmp_path / "cache"
    shutil.copytree(sample_cache, old)
    manifest_path = old / INDEX_DIR / INDEX_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 0}))
    client = int(load_tables(old, ["bureau"])["bureau"]["SK_ID_CURR"].iloc[0])
    assert len(HistoryStore(old).history_for(client)["bureau"]) > 0
    assert json.loads(manifest_path.read_text())["format_version"] != 0


_LOOKUP = """
import sys, pandas as pd
from scoring.ml.data.history_store import HistoryStore
frames = HistoryStore(sys.argv[1]).history_for(int(sys.argv[2]))
print(sum(len(f) for f in frames.values()))
"""


def test_concurrent_processes_build_the_missing_index_once(sample_cache, tmp_path) -> None:
    """Processes that start together on an index-less cache wait for one build and all read
    the same complete index."""
    old = tmp_path / "cache"
    shutil.copytree(sample_cache, old)
    shutil.rmtree(old / INDEX_DIR)
    bureau = load_tables(old, ["bureau"])["bureau"]
    client = int(bureau["SK_ID_CURR"].value_counts().index[0])
    expected = sum(len(f) for f in HistoryStore(sample_cache).history_for(client).values())
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _LOOKUP, str(old), str(client)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert [int(out) for out, _ in outputs] == [expected] * 3
    builds = sum("building it now" in err for _, err in outputs)
    assert builds == 1, outputs
    assert not list(old.glob(f".{INDEX_DIR}.tmp*"))


def test_a_hand_made_cache_keeps_its_types(tmp_path) -> None:
    """A cache of a few hand-written rows (as tests and tools write them): columns left out
    are missing, a value outside the vocabulary is missing (as the online path always typed
    it), and an integer column with gaps comes back as floats only for clients with a gap."""
    cache = tmp_path / "cache"
    cache.mkdir()
    bureau = [
        {"SK_ID_CURR": 7, "SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active", "DAYS_CREDIT": -10},
        {"SK_ID_CURR": 8, "SK_ID_BUREAU": 2, "CREDIT_ACTIVE": "Closed"},
        {"SK_ID_CURR": 7, "SK_ID_BUREAU": 3, "CREDIT_ACTIVE": "Active", "DAYS_CREDIT": -5},
    ]
    frame = frames_from_records("bureau", bureau)
    frame["CREDIT_TYPE"] = pd.Series(["Microloan", "Space travel", None], dtype="category")
    frame.to_parquet(cache / "bureau.parquet")
    (cache / CACHE_MANIFEST).write_text(
        json.dumps({"tables": {"bureau": {"file": "bureau.parquet"}}})
    )
    store = HistoryStore(cache)

    seven = store.history_for(7)["bureau"]
    assert list(seven["SK_ID_BUREAU"]) == [1, 3]
    assert seven["DAYS_CREDIT"].dtype == np.int64 and list(seven["DAYS_CREDIT"]) == [-10, -5]
    assert list(seven["CREDIT_TYPE"].astype(object)) == ["Microloan", np.nan]
    eight = store.history_for(8)
    assert eight["bureau"]["CREDIT_TYPE"].isna().all()  # "Space travel" is not a credit type
    assert eight["bureau"]["DAYS_CREDIT"].isna().all()
    assert all(eight[name].empty for name in HISTORY_TABLES if name != "bureau")


def test_inline_rows_are_typed_like_the_loader(sample_cache) -> None:
    loaded = load_tables(sample_cache, ["bureau"])["bureau"].head(3)
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in loaded.to_dict("records")
    ]
    frame = frames_from_records("bureau", rows)
    pd.testing.assert_frame_equal(frame, loaded.reset_index(drop=True))


def test_the_index_reads_without_mapping_its_files(sample_cache) -> None:
    """Look-ups read with pread: no index file stays mapped in the process, so its pages
    count towards the machine's page cache, not each process's resident memory."""
    index = HistoryIndex(sample_cache / INDEX_DIR)
    for client in range(100_000, 100_300):
        for name in index.tables:
            index.rows_of(name, client)
    maps = Path("/proc/self/maps").read_text()
    assert str(sample_cache / INDEX_DIR) not in maps
    index.close()


def test_open_if_present_needs_a_cache(tmp_path) -> None:
    assert HistoryStore.open_if_present(tmp_path) is None
