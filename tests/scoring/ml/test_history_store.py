"""A known applicant's history from the cache equals that applicant's rows of the batch load."""

from __future__ import annotations

import pandas as pd
import pytest

from scoring.ml.data.history_store import HistoryStore, frames_from_records
from scoring.ml.data.load import build_cache, load_tables
from scoring.ml.schema.tables import HISTORY_TABLES


@pytest.fixture(scope="module")
def sample_cache(home_credit_sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "cache"
    report = build_cache(home_credit_sample_dir, out)
    assert not report.errors
    return out


def test_lookup_returns_exactly_the_clients_rows_in_file_order(sample_cache) -> None:
    store = HistoryStore(sample_cache)
    tables = load_tables(sample_cache, HISTORY_TABLES)
    bureau, previous = tables["bureau"], tables["previous_application"]
    clients = sorted(set(bureau.SK_ID_CURR) & set(previous.SK_ID_CURR))[:5]
    assert clients, "the sample has clients with both bureau and previous applications"
    for client in clients:
        history = store.history_for(client)
        for name in HISTORY_TABLES:
            table = tables[name]
            if name == "bureau_balance":
                mine = bureau.loc[bureau["SK_ID_CURR"] == client, "SK_ID_BUREAU"]
                expected = table[table.SK_ID_BUREAU.isin(mine)]
            else:
                expected = table[table["SK_ID_CURR"] == client]
            pd.testing.assert_frame_equal(
                history[name], expected.reset_index(drop=True), check_dtype=False
            )
            assert list(history[name].columns) == list(table.columns)


def test_unknown_client_gets_empty_typed_frames(sample_cache) -> None:
    history = HistoryStore(sample_cache).history_for(999_999_999)
    assert set(history) == set(HISTORY_TABLES)
    assert all(frame.empty for frame in history.values())
    assert isinstance(history["bureau"]["CREDIT_ACTIVE"].dtype, pd.CategoricalDtype)


def test_inline_rows_are_typed_like_the_loader(sample_cache) -> None:
    loaded = load_tables(sample_cache, ["bureau"])["bureau"].head(3)
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in loaded.to_dict("records")
    ]
    frame = frames_from_records("bureau", rows)
    pd.testing.assert_frame_equal(frame, loaded.reset_index(drop=True))


def test_open_if_present_needs_a_cache(tmp_path) -> None:
    assert HistoryStore.open_if_present(tmp_path) is None
