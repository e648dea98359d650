"""`/metrics`: Prometheus text from the loopback address or with the token, 403 otherwise."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scoring.models import ModelVersion
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_metrics_parse_and_hold_each_named_series(client, settings) -> None:
    DecisionFactory(outcome="APPROVE")
    DecisionFactory(outcome="APPROVE", application__scoring_claim="request-abc")
    DecisionFactory(outcome="REJECT")
    LoanApplicationFactory(status="FAILED")
    ModelVersion.objects.update(status="active")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = families(response.content.decode())
    decided = {s.labels["outcome"]: s.value for s in found["credscope_decisions"].samples}
    assert decided == {"APPROVE": 2.0, "REFER": 0.0, "REJECT": 1.0}
    latency = found["credscope_decision_latency_seconds"].samples
    counts = {s.labels["mode"]: s.value for s in latency if s.name.endswith("_count")}
    assert counts == {"sync": 1.0, "async": 2.0, "batch": 0.0}
    assert any(s.labels.get("le") == "+Inf" for s in latency)
    assert found["credscope_scoring_failures"].samples[0].value == 1.0
    depth = {s.labels["queue"] for s in found["credscope_queue_depth"].samples}
    assert depth == {settings.CELERY_TASK_DEFAULT_QUEUE, settings.CREDSCOPE_CHALLENGER_QUEUE}
    assert {s.labels["validity"] for s in found["credscope_batch_rows"].samples} == {
        "valid",
        "invalid",
    }
    assert found["credscope_active_model_info"].samples[0].labels["version"] == "test-model-v1"


def test_the_active_model_is_an_info_metric(client) -> None:
    DecisionFactory(model_version__status="active", model_version__version="v-live")
    found = families(client.get("/metrics", REMOTE_ADDR="::1").content.decode())
    (sample,) = found["credscope_active_model_info"].samples
    assert sample.labels["version"] == "v-live" and sample.value == 1.0


def test_elsewhere_only_the_token_opens_metrics(client, settings) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    right = client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert right.status_code == 200 and b"credscope_decisions_total" in right.content
    settings.METRICS_TOKEN = ""
    blank = client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION="Bearer ")
    assert blank.status_code == 403


@pytest.mark.postgres
def test_metrics_on_postgresql(client) -> None:
    DecisionFactory(outcome="REFER")
    found = families(client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode())
    latency = found["credscope_decision_latency_seconds"].samples
    assert [s.value for s in latency if s.name.endswith("_count") and s.labels["mode"] == "async"]
