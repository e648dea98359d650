"""Model bundles: contents, checksums, refusal of tampered bundles, version ids."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from scoring.ml.serving.bundle import (
    FORMAT_VERSION,
    MANIFEST,
    MODEL_FILES,
    BundleError,
    BundleFormatError,
    BundleIntegrityError,
    load_bundle,
    new_version_id,
    write_bundle,
)
from scoring.ml.serving.predict import Scorer
from scoring.ml.training.learners import BASE_MODELS, LEARNERS
from tests.scoring.ml.ml_support import sample_features, trained_bundle

VERSION = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}")


@pytest.fixture(scope="module")
def bundle_path(home_credit_sample_dir) -> Path:
    result, _ = trained_bundle(home_credit_sample_dir)
    return result.bundle_path


@pytest.fixture
def copy(bundle_path: Path, tmp_path: Path) -> Path:
    target = tmp_path / bundle_path.name
    shutil.copytree(bundle_path, target)
    return target


def test_bundle_holds_native_models_json_and_a_manifest_of_every_file(bundle_path: Path) -> None:
    assert VERSION.fullmatch(bundle_path.name)
    manifest = json.loads((bundle_path / MANIFEST).read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["version"] == bundle_path.name
    files = {p.relative_to(bundle_path).as_posix() for p in bundle_path.rglob("*") if p.is_file()}
    assert files - {MANIFEST} == set(manifest["files"])
    assert set(MODEL_FILES.values()) <= files
    assert {"ensemble.json", "features.json", "metrics.json", "training.json"} <= files
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    assert (bundle_path / "models/lightgbm.txt").read_text().startswith("tree")
    features = json.loads((bundle_path / "features.json").read_text())
    assert features["excluded"] == ["CODE_GENDER"]
    assert len(features["names"]) == len(features["features"]) >= 500
    assert {"name", "kind", "dtype", "group", "description"} <= set(features["features"][0])
    training = json.loads((bundle_path / "training.json").read_text())
    assert len(training["fingerprint"]["sha256"]) == 64
    assert training["fingerprint"]["rows"] == 10_556


def test_load_verifies_and_serves_the_trained_models(
    bundle_path: Path, home_credit_sample_dir
) -> None:
    bundle = load_bundle(bundle_path)
    assert bundle.version == bundle_path.name
    assert len(bundle.manifest_sha256) == 64
    X = sample_features(home_credit_sample_dir).X[:100]
    scorer = Scorer(bundle)
    for j, library in enumerate(BASE_MODELS):
        native = LEARNERS[library].margins(bundle.native_model(library), X)
        np.testing.assert_allclose(scorer.base_margins(X)[:, j], native, atol=1e-5)
    assert load_bundle(bundle_path, expected_manifest_sha256=bundle.manifest_sha256)
    with pytest.raises(BundleIntegrityError, match=MANIFEST):
        load_bundle(bundle_path, expected_manifest_sha256="0" * 64)


@pytest.mark.parametrize(
    "name", [*MODEL_FILES.values(), "ensemble.json", "features.json", "metrics.json"]
)
def test_a_modified_file_is_refused_by_name(copy: Path, name: str) -> None:
    target = copy / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    target.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match=re.escape(name)) as error:
        load_bundle(copy)
    assert error.value.filename == name
    assert "modified" in str(error.value)


@pytest.mark.parametrize("name", ["models/catboost.cbm", "training.json", MANIFEST])
def test_a_deleted_file_is_refused_by_name(copy: Path, name: str) -> None:
    (copy / name).unlink()
    with pytest.raises(BundleIntegrityError, match=re.escape(name)) as error:
        Scorer.from_bundle(copy)
    assert error.value.filename == name
    assert "missing" in str(error.value)


def test_an_unlisted_file_is_refused(copy: Path) -> None:
    (copy / "models" / "extra.txt").write_text("not part of the bundle")
    with pytest.raises(BundleIntegrityError, match=re.escape("models/extra.txt")):
        load_bundle(copy)


def test_another_format_version_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleFormatError, match="format version"):
        load_bundle(copy)


def test_a_bundle_for_other_features_is_refused(bundle_path: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_path)
    features = dict(bundle.features, names=bundle.features["names"][:-1])
    info = write_bundle(
        tmp_path,
        models={m: bundle.native_model(m) for m in BASE_MODELS},
        ensemble=bundle.ensemble,
        features=features,
        metrics=bundle.metrics,
        training=bundle.training,
    )
    assert load_bundle(info.path)  # intact, but not for this feature code
    with pytest.raises(BundleError, match="retrain"):
        Scorer.from_bundle(info.path)


def test_writing_is_atomic_and_versions_sort_by_time(bundle_path: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_path)
    infos = [
        write_bundle(
            tmp_path,
            models={m: bundle.native_model(m) for m in BASE_MODELS},
            ensemble=bundle.ensemble,
            features=bundle.features,
            metrics=bundle.metrics,
            training=bundle.training,
        )
        for _ in range(2)
    ]
    assert infos[0].version != infos[1].version
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(i.version for i in infos)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    with pytest.raises(BundleError):
        write_bundle(tmp_path, models={}, ensemble={}, features={}, metrics={}, training={})
    assert len(list(tmp_path.iterdir())) == 2


def test_version_ids_are_unique_and_sortable() -> None:
    start = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    ids = [new_version_id("same", start + timedelta(seconds=s)) for s in (0, 0, 1, 61, 3600)]
    assert all(VERSION.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids[0].startswith("20261125-103000-")
    assert sorted(ids[2:]) == ids[2:]
