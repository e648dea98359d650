"""Versioned, checksummed model bundles.

A bundle is a directory named by its version id (``20261125-103000-1a2b3c4d``: UTC time,
then a hash of the contents, so ids sort by time and never collide)::

    manifest.json          format version, version id, creation time, sha256 + size of
                           every other file
    models/lightgbm.txt    LightGBM's own text format
    models/xgboost.ubj     XGBoost's own UBJSON format
    models/catboost.cbm    CatBoost's own binary format
    ensemble.json          meta-learner weights and intercept, Platt calibration, threshold
    features.json          feature version and digest, excluded attributes, every feature
                           with its type, source, group and description
    metrics.json           the version's metrics (see scoring.ml.training.metrics)
    training.json          profile, parameters, trees, seeds, library versions, timings and
                           the training-data fingerprint

No pickles: every model is in its library's native format and everything else is JSON.
:func:`write_bundle` writes into a temporary directory beside the target and renames it
into place, so a bundle is complete or absent. :func:`load_bundle` reads every file once,
checks its sha256 against the manifest and refuses a bundle with a missing, modified or
unlisted file, naming it (:class:`BundleIntegrityError`). Models are then built from the
verified bytes, never re-read from disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from scoring.ml.training.learners import LEARNERS

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILES: dict[str, str] = {name: learner.bundle_file for name, learner in LEARNERS.items()}
JSON_FILES = ("ensemble.json", "features.json", "metrics.json", "training.json")


class BundleError(Exception):
    """A bundle that cannot be used."""


class BundleIntegrityError(BundleError):
    """A file of the bundle is missing, modified or not in its manifest."""

    def __init__(self, filename: str, problem: str) -> None:
        self.filename = filename
        self.problem = problem
        super().__init__(f"model bundle file {filename!r} {problem}")


class BundleFormatError(BundleError):
    """The bundle was written in a format this code does not read."""


@dataclass
class Bundle:
    """A verified bundle, held in memory."""

    path: Path
    version: str
    manifest: dict[str, Any]
    manifest_sha256: str
    ensemble: dict[str, Any]
    features: dict[str, Any]
    metrics: dict[str, Any]
    training: dict[str, Any]
    model_bytes: dict[str, bytes] = field(repr=False)

    def native_model(self, library: str) -> Any:
        """The library's own model object, built from the verified bytes."""
        return LEARNERS[library].from_bytes(self.model_bytes[library])


@dataclass(frozen=True)
class BundleInfo:
    version: str
    path: Path
    manifest_sha256: str


def new_version_id(content_digest: str, now: datetime | None = None) -> str:
    """``YYYYMMDD-HHMMSS-<8 hex>``: sortable by time, unique by content and a nonce."""
    now = now or datetime.now(UTC)
    salt = f"{content_digest}:{now.isoformat()}:{uuid.uuid4().hex}".encode()
    return f"{now:%Y%m%d-%H%M%S}-{hashlib.sha256(salt).hexdigest()[:8]}"


def write_bundle(
    out_dir: str | Path,
    *,
    models: dict[str, Any],
    ensemble: dict[str, Any],
    features: dict[str, Any],
    metrics: dict[str, Any],
    training: dict[str, Any],
) -> BundleInfo:
    """Write a new bundle under ``out_dir`` and return its version, path and digest.

    ``models`` maps ``lightgbm`` / ``xgboost`` / ``catboost`` to the trained native
    objects. The directory appears under its final name only once complete.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contents: dict[str, bytes] = {
        MODEL_FILES[name]: LEARNERS[name].to_bytes(model) for name, model in models.items()
    }
    if set(models) != set(MODEL_FILES):
        raise BundleError(f"a bundle needs exactly the models {sorted(MODEL_FILES)}")
    for name, payload in zip(JSON_FILES, (ensemble, features, metrics, training), strict=True):
        contents[name] = _json_bytes(payload)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    now = datetime.now(UTC)
    version = new_version_id(
        hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest(), now
    )
    manifest = {
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": now.isoformat(timespec="seconds"),
        "files": {
            name: {"sha256": digests[name], "bytes": len(contents[name])}
            for name in sorted(contents)
        },
    }
    manifest_bytes = _json_bytes(manifest)
    final = out_dir / version
    tmp = out_dir / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    try:
        for name, data in [*contents.items(), (MANIFEST, manifest_bytes)]:
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.rename(tmp, final)  # atomic on one filesystem; fails if the version exists
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BundleInfo(version, final, hashlib.sha256(manifest_bytes).hexdigest())


def load_bundle(path: str | Path, *, expected_manifest_sha256: str | None = None) -> Bundle:
    """Read and verify the bundle at ``path``.

    Raises :class:`BundleIntegrityError` naming the first file that is missing, differs
    from its checksum, or is not listed; :class:`BundleFormatError` for another format
    version. ``expected_manifest_sha256`` (as recorded by a registry) also pins the
    manifest itself.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"no model bundle at {path}")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BundleIntegrityError(MANIFEST, "is missing")
    manifest_bytes = manifest_path.read_bytes()
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    if expected_manifest_sha256 and manifest_sha256 != expected_manifest_sha256:
        raise BundleIntegrityError(MANIFEST, "differs from the one registered")
    try:
        manifest = json.loads(manifest_bytes)
    except json.JSONDecodeError as error:
        raise BundleIntegrityError(MANIFEST, f"is not valid JSON ({error})") from error
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleFormatError(
            f"bundle {path} has format version {manifest.get('format_version')!r}; "
            f"this code reads version {FORMAT_VERSION}"
        )
    listed = manifest.get("files", {})
    contents: dict[str, bytes] = {}
    for name, entry in sorted(listed.items()):
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise BundleIntegrityError(name, "points outside the bundle")
        file = path / relative
        if not file.is_file():
            raise BundleIntegrityError(name, "is missing")
        data = file.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.get("sha256"):
            raise BundleIntegrityError(
                name,
                f"was modified (sha256 {digest[:12]}..., "
                f"manifest says {str(entry.get('sha256', ''))[:12]}...)",
            )
        contents[name] = data
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        name = file.relative_to(path).as_posix()
        if name != MANIFEST and name not in listed:
            raise BundleIntegrityError(name, "is not listed in the manifest")
    for name in [*MODEL_FILES.values(), *JSON_FILES]:
        if name not in contents:
            raise BundleIntegrityError(name, "is missing from the manifest")
    parsed = {name: json.loads(contents[name]) for name in JSON_FILES}
    return Bundle(
        path=path,
        version=str(manifest["version"]),
        manifest=manifest,
        manifest_sha256=manifest_sha256,
        ensemble=parsed["ensemble.json"],
        features=parsed["features.json"],
        metrics=parsed["metrics.json"],
        training=parsed["training.json"],
        model_bytes={lib: contents[name] for lib, name in MODEL_FILES.items()},
    )


def _json_bytes(payload: Any) -> bytes:
    return (
        json.dumps(json_safe(payload), indent=2, sort_keys=True, allow_nan=False) + "\n"
    ).encode()


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars made Python ones and NaN / infinities made ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
