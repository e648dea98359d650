"""Warm start: a process loads and compiles the active model before its first decision (at
start, and when it activates a version), so that decision does not pay for the load."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

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
        lambda: "warm heap frozen" in celery_worker_process.log_path.read_text(),
        30,
        "the worker's warm start",
    )
    log = celery_worker_process.log_path.read_text()
    # Loaded first, then frozen: the collector's full passes skip the model from then on.
    assert log.index(f"warm start: model {trained_model.version} ready") < log.index(
        "warm heap frozen"
    )
    # Once: the solo pool says `worker_process_init` too, and must not warm a second time.
    assert log.count("warm start: model") == 1 and log.count("warm heap frozen") == 1, log


# --- another process, when a version is activated elsewhere -----------------------------------


@pytest.mark.django_db
def test_an_announced_activation_is_loaded_here_before_it_decides(
    trained_model, loads, django_assert_num_queries
) -> None:
    """A process that has not loaded the version (as every other web and worker process
    when a model admin activates one elsewhere) loads and compiles it on the announcement,
    without a database query, and its first decision with it loads nothing."""
    announcement = {
        "version": trained_model.version,
        "bundle_path": trained_model.bundle_path,
        "reply": "credscope:model-warm:test",
        "from": "another-host:1234:abcd",
    }
    with django_assert_num_queries(0):
        reply, answer = registry._warm_announced(announcement)
    assert reply == "credscope:model-warm:test"
    assert json.loads(answer)["ok"] is True
    assert loads == [trained_model.bundle_path]
    score = registry.score_record(application_row=ROW, history=None, external_id=None)
    assert score.model_version == trained_model
    assert loads == [trained_model.bundle_path]  # the decision used the scorer warmed above


@pytest.mark.django_db
def test_an_announcement_that_cannot_be_loaded_is_answered_with_the_reason(
    trained_model, loads, tmp_path
) -> None:
    announcement = {
        "version": "no-such-version",
        "bundle_path": str(tmp_path / "missing"),
        "reply": "r",
        "from": "another-host:1234:abcd",
    }
    _, answer = registry._warm_announced(announcement)
    status = json.loads(answer)
    assert status["ok"] is False and "missing" in status["error"]
    assert "no-such-version" not in registry._loaded


@pytest.mark.django_db
def test_the_announcing_process_does_not_load_its_own_announcement_again(
    trained_model, loads
) -> None:
    announcement = {
        "version": trained_model.version,
        "bundle_path": trained_model.bundle_path,
        "reply": "r",
        "from": registry._PROCESS,
    }
    _, answer = registry._warm_announced(announcement)
    assert json.loads(answer)["ok"] is True and loads == []


@pytest.mark.django_db
def test_without_redis_an_activation_has_nobody_to_tell(trained_model, settings) -> None:
    settings.REDIS_URL = ""
    assert registry.activation_announce(version="v", bundle_path="/nowhere") == (0, 0)
    assert registry.activation_listener_start() is False


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.django_db
def test_another_process_is_warm_with_a_version_before_its_activation_commits(
    trained_model, caplog
) -> None:
    """Two real processes: a listener in a second Python process hears the announcement,
    loads and compiles the bundle and answers; only then does the activation here commit."""
    script = textwrap.dedent(
        """
        import logging, sys, time
        import django
        django.setup()
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, force=True)
        from scoring import registry
        assert registry.activation_listener_start()
        print("listening", flush=True)
        time.sleep(300)
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.test",
        "CREDSCOPE_WARM_START": "0",
    }
    other = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert other.stdout is not None
        for line in other.stdout:
            output.append(line)
            if line.strip() == "listening":
                break
        assert "listening\n" in output, "".join(output)
        trained_model.status = "retired"
        trained_model.save(update_fields=["status"])
        with caplog.at_level(logging.INFO, logger="scoring.registry"):
            registry.model_version_activate(
                version=trained_model.version, actor=None, reason="activated elsewhere"
            )
        warm = re.search(
            rf"activation of {trained_model.version}: (\d+) of (\d+) other processes warm",
            caplog.text,
        )
        assert warm is not None, caplog.text
        assert int(warm.group(1)) == int(warm.group(2)) >= 1  # the other process at least
    finally:
        other.kill()
        rest, _ = other.communicate(timeout=30)
        output.append(rest or "")
    assert f"warm start: model {trained_model.version} ready" in "".join(output)
