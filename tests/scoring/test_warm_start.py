"""Warm start: a process loads and compiles the active model before its first decision (at
start, and when it activates a version), so that decision does not pay for the load."""

from __future__ import annotations

import logging

import pytest

from scoring import registry
from scoring.ml.serving.predict import Scorer
from tests.factories import minimal_application
from tests.scoring.test_worker_resilience import wait_for

ROW = minimal_application()


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every bundle this process loads from disk, in order."""
    seen: list[str] = []
    real = Scorer.from_bundle.__func__

    def counting(cls, path, **kwargs):
        seen.append(str(path))
        return real(cls, path, **kwargs)

    monkeypatch.setattr(Scorer, "from_bundle", classmethod(counting))
    monkeypatch.setattr(registry, "_loaded", {})  # nothing loaded in this process yet
    return seen


@pytest.mark.django_db
def test_with_no_active_model_a_process_still_starts(loads, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="scoring.registry"):
        assert registry.scorer_warm() is None
    assert "warm start skipped: no model version is active" in caplog.text
    assert loads == []


@pytest.mark.django_db
def test_a_warmed_process_decides_without_loading_again(trained_model, loads) -> None:
    assert registry.scorer_warm() == trained_model.version
    assert loads == [trained_model.bundle_path]
    score = registry.score_record(application_row=ROW, history=None, external_id=None)
    assert score.model_version == trained_model and 0 < score.probability_of_default < 1
    assert loads == [trained_model.bundle_path]  # the decision used the warm scorer


@pytest.mark.django_db
def test_activating_a_version_leaves_this_process_warm_with_it(
    trained_model, loads, django_capture_on_commit_callbacks
) -> None:
    trained_model.status = "retired"  # as after a rollback to another version
    trained_model.save(update_fields=["status"])
    with django_capture_on_commit_callbacks(execute=True):
        registry.model_version_activate(
            version=trained_model.version, actor=None, reason="rollback in a test"
        )
    assert loads == [trained_model.bundle_path]  # verified once, before anything changed
    registry.score_record(application_row=ROW, history=None, external_id=None)
    assert loads == [trained_model.bundle_path]  # and kept for the next decision


@pytest.mark.celery_worker
@pytest.mark.slow
def test_a_worker_loads_the_active_model_before_its_first_task(
    trained_model, celery_worker_process
) -> None:
    wait_for(
        lambda: (
            f"warm start: model {trained_model.version} ready"
            in celery_worker_process.log_path.read_text()
        ),
        30,
        "the worker's warm start",
    )
