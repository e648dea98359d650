"""scoring.ml is pure Python over DataFrames and arrays: importing it must not import Django,
and the heavy optional libraries load only when a function needs them."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import scoring.ml

REPO = Path(__file__).resolve().parents[3]


def _run(script: str) -> str:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def ml_modules() -> list[str]:
    """Every module of scoring.ml, subpackages included."""
    return sorted(m.name for m in pkgutil.walk_packages(scoring.ml.__path__, prefix="scoring.ml."))


def test_every_subpackage_of_the_map_is_walked() -> None:
    modules = set(ml_modules())
    for package in ("schema", "data", "synth", "features", "training", "serving"):
        assert f"scoring.ml.{package}" in modules
    assert {"scoring.ml.features.build", "scoring.ml.serving.predict"} <= modules


def test_no_scoring_ml_module_imports_django() -> None:
    script = (
        "import importlib, sys\n"
        f"for name in {ml_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    assert _run(script) == "", "django imported by scoring.ml"


def test_catboost_loads_only_when_a_catboost_model_is_built() -> None:
    """Importing the serving and training code leaves catboost and optuna unloaded; building
    a CatBoost model from bytes loads it (so the check can see a heavy import)."""
    script = (
        "import sys\n"
        "import scoring.ml.serving.predict, scoring.ml.serving.bundle\n"
        "import scoring.ml.training.learners\n"
        "before = [m for m in ('catboost', 'optuna', 'fairlearn', 'duckdb') if m in sys.modules]\n"
        "from scoring.ml.training.learners import LEARNERS\n"
        "try:\n"
        "    LEARNERS['catboost'].from_bytes(b'not a model')\n"
        "except Exception:\n"
        "    pass\n"
        "print(','.join(before), '|', 'catboost' in sys.modules)\n"
    )
    assert _run(script) == "| True"
