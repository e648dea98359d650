"""Small synthetic data sets shared by the data-layer tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.ml.synth.generate import GenerationSummary, generate

TINY_SCALE = 0.002
TINY_SEED = 5


@pytest.fixture(scope="session")
def tiny_parquet(tmp_path_factory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("synth") / "parquet"
    return out, generate(out, TINY_SCALE, TINY_SEED, "parquet")


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("synth") / "csv"
    return out, generate(out, TINY_SCALE, TINY_SEED, "csv")
