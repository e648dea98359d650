"""scoring.ml is pure Python over DataFrames and arrays: importing it must not import Django."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import scoring.ml

REPO = Path(__file__).resolve().parents[3]


def test_no_scoring_ml_module_imports_django() -> None:
    modules = sorted(f"scoring.ml.{m.name}" for m in pkgutil.iter_modules(scoring.ml.__path__))
    assert {"scoring.ml.features", "scoring.ml.predict", "scoring.ml.bundle"} <= set(modules)
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(bad))\n"
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"django imported by scoring.ml: {done.stdout}"


def test_heavy_libraries_load_only_when_used() -> None:
    script = (
        "import sys\n"
        "import scoring.ml.predict, scoring.ml.bundle, scoring.ml.explain\n"
        "print(','.join(m for m in ('catboost', 'shap', 'numba', 'optuna') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env={"PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
