"""Per-applicant aggregates of the six history tables.

Each ``*_block`` function takes the table(s) as polars LazyFrames (all numbers Float64, text
as String, keys Int64: see :func:`scoring.ml.features.build.normalize_table`) and returns one
LazyFrame keyed by SK_ID_CURR plus the specs of its columns, in a fixed order. The same
function runs on 58M rows and on one applicant's ten rows; nothing here depends on which
values happen to be present (vocabularies come from :mod:`scoring.ml.schema.tables`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl

from scoring.ml.features.base import Block
from scoring.ml.features.history_bureau import bureau_balance_block, bureau_block
from scoring.ml.features.history_monthly import credit_card_block, installments_block, pos_block
from scoring.ml.features.history_previous import previous_block

#: The history blocks in matrix order, with the tables each one reads.
BLOCKS: tuple[tuple[tuple[str, ...], Callable[..., Block]], ...] = (
    (("bureau", "bureau_balance"), bureau_block),
    (("bureau", "bureau_balance"), bureau_balance_block),
    (("previous_application",), previous_block),
    (("POS_CASH_balance",), pos_block),
    (("installments_payments",), installments_block),
    (("credit_card_balance",), credit_card_block),
)


def history_blocks(tables: Mapping[str, pl.LazyFrame]) -> list[Block]:
    """Every history block over ``tables`` (each a normalised LazyFrame, possibly empty)."""
    return [fn(*(tables[name] for name in names)) for names, fn in BLOCKS]
