"""Generated applicants as a client sends them: the application row and its history inline.

Tests and benchmarks that go through the online doors (the API, `decide`, the counteroffer
search) need the generator's tables regrouped per applicant, in the plain values a JSON body
carries. `bureau_balance` reaches its applicant through bureau's `SK_ID_BUREAU`, as it does
in the batch loader.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from scoring.ml.data.load import load_tables
from scoring.ml.schema.records import clean_application, clean_history
from scoring.ml.schema.tables import HISTORY_TABLES


def generated_clients(directory: Path) -> Iterator[tuple[dict[str, Any], dict[str, list]]]:
    """Each generated applicant in `directory` (the generator's output) in file order:
    (application row without SK_ID_CURR and TARGET, its history rows by table).

    Missing values are None, numbers plain Python; a table without rows for the applicant is
    left out of the history.
    """
    tables = load_tables(directory, ("application_train", *HISTORY_TABLES))
    by_client = {
        name: dict(tuple(frame.groupby("SK_ID_CURR")))
        for name, frame in tables.items()
        if name not in ("application_train", "bureau_balance")
    }
    balance = dict(tuple(tables["bureau_balance"].groupby("SK_ID_BUREAU")))
    for row in plain_records(tables["application_train"].drop(columns=["TARGET"])):
        client = row.pop("SK_ID_CURR")
        history: dict[str, list] = {}
        for name in HISTORY_TABLES:
            if name == "bureau_balance":
                ids = [r["SK_ID_BUREAU"] for r in history.get("bureau", [])]
                rows = [r for i in ids if i in balance for r in plain_records(balance[i])]
            else:
                frame = by_client[name].get(client)
                rows = [] if frame is None else plain_records(frame.drop(columns=["SK_ID_CURR"]))
            if rows:
                history[name] = rows
        yield row, history


def client_payload(row: dict[str, Any], history: dict[str, list]) -> dict[str, Any] | None:
    """{"row", "history"} cleaned as every door cleans them, or None when a door would refuse
    them (the generator's rows are valid input: the tests that use this say how many were)."""
    cleaned, errors = clean_application({k: v for k, v in row.items() if v is not None})
    cleaned_history, history_errors = clean_history(history)
    if errors or history_errors:
        return None
    return {"row": cleaned, "history": cleaned_history}


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as JSON-ready dicts: NaN as None, numpy scalars as Python's."""
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value
