"""Paths the settings modules share, importable before base.py reads the environment."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"
