"""The model registry: train_model, activate_model (and rollback), list_models, verified loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring import registry
from scoring.models import ModelVersion
from tests.factories import SEED_APPLICATION_ROW as ROW
from tests.scoring.ml.ml_support import trained_bundle


def copy_of_bundle(home_credit_sample_dir: Path, target: Path) -> Path:
    """A second, distinct version on disk: the trained bundle under another version id."""
    result, _ = trained_bundle(home_credit_sample_dir)
    return Path(shutil.copytree(result.bundle_path, target / result.bundle_path.name))


def test_train_model_on_the_real_sample_registers_and_activates_a_version(
    db, home_credit_sample_dir, model_admin, tmp_path, capsys
) -> None:
    call_command(
        "train_model",
        "--data",
        str(home_credit_sample_dir),
        "--profile",
        "test",
        "--out",
        str(tmp_path),
        "--activate",
        "--user",
        model_admin.username,
    )
    captured = capsys.readouterr()
    headline = json.loads(captured.out.strip().splitlines()[-1])
    assert "fold 1/2" in captured.err and "lightgbm" in captured.err
    model = ModelVersion.objects.get(version=headline["version"])
    assert model.status == ModelVersion.Status.ACTIVE and model.profile == "test"
    assert model.trained_by == model_admin and model.activated_by == model_admin
    assert Path(model.bundle_path) == tmp_path / headline["version"]
    assert model.feature_count == headline["n_features"] >= 500
    assert 0.5 < model.auc <= 1 and model.gini == pytest.approx(2 * model.auc - 1)
    assert model.oracle_auc is None  # the real sample has no oracle
    assert len(model.data_fingerprint) == 64
    for library in ("lightgbm", "xgboost", "catboost"):
        assert {"roc_auc", "gini", "ks", "brier", "log_loss", "calibration"} <= set(
            model.metrics["base_models"][library]["holdout"]
        )
    actions = list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))
    assert actions[-2:] == [AuditAction.MODEL_TRAINED, AuditAction.MODEL_ACTIVATED]

    call_command("list_models")
    listing = capsys.readouterr().out
    assert headline["version"] in listing and "active" in listing


def test_train_model_names_a_missing_data_folder(db, tmp_path) -> None:
    with pytest.raises(CommandError, match="nowhere is not a folder"):
        call_command("train_model", "--data", str(tmp_path / "nowhere"), "--profile", "test")
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize("persona", ["officer", "compliance"])
def test_only_model_admins_train_or_activate(request, db, persona, tmp_path) -> None:
    """Training is refused where it starts (before any work) and activation before anything
    changes, for every role but model admin; the operator at the command line (no --user)
    and a model admin pass (their runs are in the tests above and below)."""
    user = request.getfixturevalue(persona)
    with pytest.raises(CommandError, match="only model admins may train"):
        call_command(
            "train_model", "--data", str(tmp_path), "--profile", "test", "--user", user.username
        )
    ModelVersion.objects.create(
        version="candidate", profile="test", bundle_path=str(tmp_path), feature_count=1
    )
    with pytest.raises(PermissionDenied, match="only model admins may activate"):
        registry.model_version_activate(version="candidate", actor=user)
    with pytest.raises(CommandError, match="only model admins may activate"):
        call_command("activate_model", "candidate", "--user", user.username)
    assert ModelVersion.objects.get().status == ModelVersion.Status.CANDIDATE
    with pytest.raises(PermissionDenied, match="only model admins may train"):
        registry.model_version_register(bundle_path=tmp_path, profile="test", trained_by=user)
    assert not AuditEvent.objects.filter(action=AuditAction.MODEL_ACTIVATED).exists()


def test_activation_keeps_one_active_version_and_rolls_back(trained_model, model_admin) -> None:
    with pytest.raises(registry.RegistryError, match="no model version 'nope'"):
        registry.model_version_activate(version="nope", actor=model_admin)

    # A second registered version, then a rollback to the first.
    ModelVersion.objects.create(
        version="second",
        profile="test",
        bundle_path=str(trained_model.bundle_path),
        feature_count=trained_model.feature_count,
    )
    registry.model_version_activate(version="second", actor=model_admin)
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {trained_model.version: "retired", "second": "active"}
    call_command("activate_model", trained_model.version, "--user", model_admin.username)
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {trained_model.version: "active", "second": "retired"}
    event = (
        AuditEvent.objects.filter(action=AuditAction.MODEL_ACTIVATED).order_by("sequence").last()
    )
    assert event.payload == {
        "version": trained_model.version,
        "before": ["second"],
        "after": trained_model.version,
    }
    assert event.actor == model_admin


def test_a_modified_bundle_is_refused_naming_the_file(
    trained_model, home_credit_sample_dir, model_admin, tmp_path
) -> None:
    tampered = copy_of_bundle(home_credit_sample_dir, tmp_path)
    metrics = tampered / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"roc_auc"', '"roc_auc" ', 1))
    ModelVersion.objects.create(
        version="tampered", profile="test", bundle_path=str(tampered), feature_count=1
    )
    with pytest.raises(CommandError, match=r"metrics\.json"):
        call_command("activate_model", "tampered")
    assert ModelVersion.objects.get(version="tampered").status == "candidate"
    assert registry.active_model_version() == trained_model


def test_the_active_model_scores_and_explains_one_application(trained_model) -> None:
    score = registry.score_record(application_row=dict(ROW), history=None, external_id=None)
    assert score.model_version == trained_model
    assert 0 < score.probability_of_default < 1
    total = score.base_value + sum(c["contribution"] for c in score.contributions)
    assert total == pytest.approx(score.logit, abs=1e-6)
    assert "CODE_GENDER" not in {c["feature"] for c in score.contributions}


def test_without_an_active_model_scoring_says_how_to_get_one(db) -> None:
    with pytest.raises(registry.NoActiveModel, match="train_model --activate"):
        registry.score_record(application_row=dict(ROW), history=None, external_id=None)


def test_model_pages_show_metrics_and_only_model_admins_activate(
    client, trained_model, model_admin, compliance, officer
) -> None:
    ModelVersion.objects.create(
        version="older",
        status="retired",
        profile="test",
        bundle_path=trained_model.bundle_path,
        feature_count=trained_model.feature_count,
    )
    client.force_login(officer)
    assert client.get("/models/").status_code == 403

    client.force_login(compliance)
    page = client.get(f"/models/{trained_model.version}/").content.decode()
    assert "ensemble (calibrated)" in page and "Calibration by decile" in page
    assert "CODE_GENDER" in page and "Demographic-parity ratio" in page
    assert "Most important features" in page
    assert client.post("/models/older/activate/").status_code == 403

    client.force_login(model_admin)
    assert "Roll back to this" in client.get("/models/").content.decode()
    response = client.post("/models/older/activate/", follow=True)
    assert "Model older is now active." in response.content.decode()
    assert registry.active_model_version().version == "older"
