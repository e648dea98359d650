"""The REST API end to end through DRF: tokens, roles, visibility, validation, idempotency,
decisions and explanations."""

import json
import math

import pytest
from django.core.cache import cache
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from applicants.models import LoanApplication
from audits.actions import AuditAction
from audits.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, LoanApplicationFactory, ModelVersionFactory
from tests.factories import SEED_APPLICATION_ROW as ROW

APPLICATIONS = "/api/v1/applications/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # throttle counters live in the cache
    yield
    cache.clear()


@pytest.fixture
def active_model_row(db):
    """An active version row for tests that never reach scoring: inside a test transaction
    the on-commit enqueue never runs."""
    return ModelVersionFactory(version="row-only", status="active")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        response = client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_token_is_issued_stored_hashed_used_and_revoked(officer) -> None:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "officer" and body["roles"] == ["loan_officer"]
    token = body["token"]
    stored = AuthToken.objects.get(user=officer)
    assert token not in (stored.digest, stored.token_key) and len(stored.digest) == 128
    assert stored.expiry > timezone.now()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(APPLICATIONS).status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get(APPLICATIONS).status_code == 401
    actions = list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))
    assert actions == [AuditAction.API_TOKEN_CREATED, AuditAction.API_TOKEN_REVOKED]


@pytest.mark.django_db
def test_a_wrong_password_gets_no_token_and_is_audited(officer) -> None:
    response = APIClient().post("/api/v1/auth/token/", {"username": "officer", "password": "no"})
    assert response.status_code == 401
    assert not AuthToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


@pytest.mark.django_db
def test_an_expired_token_is_refused(officer) -> None:
    client = client_for(officer)
    AuthToken.objects.update(expiry=timezone.now() - timezone.timedelta(seconds=1))
    assert client.get(APPLICATIONS).status_code == 401


# --- roles ------------------------------------------------------------------------------------


CSV = b"AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH\n100000,200000,-12000\n"


def call(client, operation):
    method, url = operation
    if method == "post-application":
        return client.post(APPLICATIONS, ROW, format="json")
    if method == "post-batch":
        return client.post("/api/v1/batches/", CSV, content_type="text/csv")
    if method == "post-policy":
        return client.post(
            "/api/v1/policies/",
            {
                "very_low_below": 0.02,
                "low_below": 0.05,
                "medium_below": 0.1,
                "high_below": 0.2,
                "approve_below": 0.07,
                "reject_at_or_above": 0.3,
            },
            format="json",
        )
    return client.get(url)


OPERATIONS = {
    "submit": ("post-application", None),
    "list": ("get", APPLICATIONS),
    "batch": ("post-batch", None),
    "models": ("get", "/api/v1/models/"),
    "active model": ("get", "/api/v1/models/active/"),
    "policies": ("get", "/api/v1/policies/"),
    "change policy": ("post-policy", None),
}
EXPECTED = {
    #                officer  compliance  model_admin  anonymous
    "submit": (202, 403, 403, 401),
    "list": (200, 200, 403, 401),
    "batch": (202, 403, 403, 401),
    "models": (403, 200, 200, 401),
    "active model": (403, 200, 200, 401),
    "policies": (403, 200, 200, 401),
    "change policy": (403, 403, 201, 401),
}


@pytest.mark.django_db
@pytest.mark.parametrize("operation", sorted(EXPECTED))
@pytest.mark.parametrize(
    ("persona", "column"), [("officer", 0), ("compliance", 1), ("model_admin", 2), (None, 3)]
)
def test_each_role_may_do_exactly_its_operations(
    request, active_model_row, operation, persona, column
):
    user = request.getfixturevalue(persona) if persona else None
    response = call(client_for(user), OPERATIONS[operation])
    assert response.status_code == EXPECTED[operation][column], response.content


@pytest.mark.django_db
def test_another_officers_application_is_404_and_compliance_reads_all(
    officer, other_officer, compliance
) -> None:
    theirs = LoanApplicationFactory(created_by=other_officer)
    mine = LoanApplicationFactory(created_by=officer)
    client = client_for(officer)
    for url in (f"{APPLICATIONS}{theirs.pk}/", f"{APPLICATIONS}{theirs.pk}/explanation/"):
        assert client.get(url).status_code == 404
    assert client.get(f"{APPLICATIONS}{mine.pk}/").status_code == 200
    assert [a["id"] for a in client.get(APPLICATIONS).json()["results"]] == [mine.pk]
    auditor = client_for(compliance)
    assert auditor.get(f"{APPLICATIONS}{theirs.pk}/").json()["id"] == theirs.pk
    assert {a["id"] for a in auditor.get(APPLICATIONS).json()["results"]} == {mine.pk, theirs.pk}


@pytest.mark.django_db
def test_compliance_reads_any_batch_and_its_results_officers_only_their_own(
    officer, other_officer, compliance, model_admin
) -> None:
    from scoring.models import BatchJob

    batch = BatchJob.objects.create(
        created_by=other_officer, filename="b.csv", status="done", total_rows=0
    )
    urls = (f"/api/v1/batches/{batch.pk}/", f"/api/v1/batches/{batch.pk}/results.csv")
    for url in urls:
        assert client_for(compliance).get(url).status_code == 200, url
        assert client_for(other_officer).get(url).status_code == 200, url
        assert client_for(officer).get(url).status_code == 404, url
        assert client_for(model_admin).get(url).status_code == 403, url
        assert client_for(None).get(url).status_code == 401, url
    assert client_for(compliance).get(urls[0]).json()["id"] == batch.pk


# --- validation -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**ROW, "AMT_INCOME_TOTAL": -180000}, "AMT_INCOME_TOTAL", "must be greater than 0"),
        ({**ROW, "AMT_CREDIT": "500k"}, "AMT_CREDIT", "must be a number"),
        ({**ROW, "DAYS_BIRTH": 12.5}, "DAYS_BIRTH", "whole number"),
        ({**ROW, "NAME_CONTRACT_TYPE": 3}, "NAME_CONTRACT_TYPE", "must be text"),
        ({**ROW, "LOYALTY_POINTS": 5}, "LOYALTY_POINTS", "unknown field"),
        ({**ROW, "external_id": "abc"}, "external_id", "whole number"),
        (
            {**ROW, "history": {"bureau": [{"DAYS_CREDIT": -100}]}},
            "history.bureau[0].SK_ID_BUREAU",
            "required",
        ),
        ([ROW], "body", "must be a JSON object"),
    ],
)
def test_bad_input_is_400_naming_each_field(officer, active_model_row, body, field, message):
    response = client_for(officer).post(APPLICATIONS, body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert message in errors[field], errors
    assert not LoanApplication.objects.exists()


@pytest.mark.django_db
def test_malformed_json_and_wrong_media_types_are_400_and_415(officer, active_model_row) -> None:
    client = client_for(officer)
    response = client.post(APPLICATIONS, '{"AMT_CREDIT": 1,', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["errors"]["body"]
    response = client.post(APPLICATIONS, "AMT_CREDIT=1", content_type="text/plain")
    assert response.status_code == 415
    response = client.post(f"{APPLICATIONS}?wait=maybe", ROW, format="json")
    assert response.status_code == 400 and "wait" in response.json()["errors"]
    response = client.get(f"{APPLICATIONS}?status=LOST&date_from=yesterday")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"status", "date_from"}


@pytest.mark.django_db
def test_oversized_and_malformed_csvs_are_400(officer, active_model_row, settings) -> None:
    settings.CREDSCOPE_BATCH_MAX_BYTES = 1000
    client = client_for(officer)
    big = b"AMT_INCOME_TOTAL,AMT_CREDIT,DAYS_BIRTH\n" + b"100000,200000,-12000\n" * 100
    response = client.post("/api/v1/batches/", {"file": _upload(big)}, format="multipart")
    assert response.status_code == 400
    assert "the limit is 1,000 bytes" in response.json()["errors"]["file"]
    response = client.post("/api/v1/batches/", b"NAME,AGE\nada,36\n", content_type="text/csv")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "unknown column(s): NAME, AGE" in errors["columns"]
    assert "AMT_INCOME_TOTAL" in errors["required"]
    response = client.post("/api/v1/batches/", {"nothing": "here"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["errors"]


def _upload(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("applications.csv", content, content_type="text/csv")


# --- idempotency ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_idempotency_key_replays_the_first_application_or_conflicts(officer, active_model_row):
    client = client_for(officer)
    first = client.post(APPLICATIONS, ROW, format="json", headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 202 and first.json()["status"] == "SUBMITTED"
    assert first.json()["decision"] is None
    replay = client.post(APPLICATIONS, ROW, format="json", headers={"Idempotency-Key": "abc-1"})
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    other = client.post(
        APPLICATIONS,
        {**ROW, "AMT_CREDIT": 400000},
        format="json",
        headers={"Idempotency-Key": "abc-1"},
    )
    assert other.status_code == 409
    assert str(first.json()["id"]) in other.json()["detail"]
    assert LoanApplication.objects.count() == 1
    too_long = client.post(APPLICATIONS, ROW, format="json", headers={"Idempotency-Key": "k" * 200})
    assert too_long.status_code == 400 and "idempotency_key" in too_long.json()["errors"]


# --- decisions (a real model) -------------------------------------------------------------------


@pytest.mark.django_db
def test_wait_scores_in_the_request_and_the_explanation_sums_to_the_logit(officer, trained_model):
    client = client_for(officer)
    response = client.post(f"{APPLICATIONS}?wait=true", ROW, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "DECIDED"
    decision = body["decision"]
    assert 0 <= decision["probability_of_default"] <= 1
    assert decision["risk_band"] in {"VERY_LOW", "LOW", "MEDIUM", "HIGH", "VERY_HIGH"}
    assert decision["outcome"] in {"APPROVE", "REFER", "REJECT"}
    assert decision["model_version"] == trained_model.version
    assert decision["policy_version"] == 1
    assert all(reason["text"] for reason in decision["reasons"])
    assert client.get(body["url"]).json()["decision"] == decision

    explanation = client.get(f"{body['url']}explanation/").json()
    assert explanation["contributions"] is None  # raw features only when asked for
    families = explanation["families"]
    assert {"family", "label", "points", "contribution"} <= set(families[0])
    assert len({f["family"] for f in families}) == len(families)
    gained = explanation["probability_of_default"] - explanation["base_probability_of_default"]
    assert abs(sum(f["points"] for f in families) / 100 - gained) <= 1e-9
    detailed = client.get(f"{body['url']}explanation/?detail=features").json()
    total = detailed["base_value"] + sum(c["contribution"] for c in detailed["contributions"])
    assert abs(total - detailed["logit"]) <= 1e-6
    assert math.isclose(
        1 / (1 + math.exp(-detailed["logit"])),
        detailed["probability_of_default"],
        rel_tol=1e-6,
    )
    assert {"feature", "family", "value", "contribution"} <= set(detailed["contributions"][0])
    ages = [c for c in detailed["contributions"] if c["feature"] in ("AGE_YEARS", "DAYS_BIRTH")]
    assert ages and all(c["family"] == "age" for c in ages)
    assert client.get(f"{body['url']}explanation/?detail=everything").status_code == 400
    outcome = decision["outcome"]
    listed = client.get(f"{APPLICATIONS}?status=DECIDED&outcome={outcome}").json()
    assert [a["id"] for a in listed["results"]] == [body["id"]]


@pytest.mark.django_db
def test_explanation_of_an_undecided_application_is_409(officer) -> None:
    application = LoanApplicationFactory(created_by=officer)
    response = client_for(officer).get(f"{APPLICATIONS}{application.pk}/explanation/")
    assert response.status_code == 409 and "SUBMITTED" in response.json()["detail"]


@pytest.mark.django_db
def test_without_an_active_model_submission_is_503_and_saves_nothing(officer) -> None:
    response = client_for(officer).post(APPLICATIONS, ROW, format="json")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert not LoanApplication.objects.exists()


# --- list, schema, docs, health, throttling ---------------------------------------------


@pytest.mark.django_db
def test_the_list_is_paginated(officer) -> None:
    for _ in range(3):
        LoanApplicationFactory(created_by=officer)
    page = client_for(officer).get(f"{APPLICATIONS}?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served_without_any_cdn(client) -> None:
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    for path in (
        "/api/v1/applications/",
        "/api/v1/applications/{application_id}/explanation/",
        "/api/v1/batches/{batch_id}/results.csv",
        "/api/v1/auth/token/",
    ):
        assert path in paths
    assert "AMT_INCOME_TOTAL" in schema.content.decode()
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "https://" not in html


@pytest.mark.django_db
def test_health_reports_database_broker_and_active_model(client, settings) -> None:
    settings.REDIS_URL = ""
    response = client.get("/api/v1/health/")
    assert response.status_code == 503 and response.json()["active_model"] is None
    ModelVersionFactory(version="v-live", status="active")
    body = client.get("/api/v1/health/").json()
    assert body == {
        "status": "ok",
        "database": "ok",
        "broker": "not configured (tasks run in process)",
        "active_model": "v-live",
    }


@pytest.mark.django_db
def test_each_user_is_throttled_on_their_own(officer, other_officer, settings) -> None:
    client, other = client_for(officer), client_for(other_officer)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "user": "3/minute",
        },
    }
    assert [client.get(APPLICATIONS).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert other.get(APPLICATIONS).status_code == 200
