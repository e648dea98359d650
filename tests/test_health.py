import pytest


@pytest.mark.django_db
def test_health_reports_database_and_broker_without_login(client, settings) -> None:
    settings.REDIS_URL = ""
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "not configured"}


@pytest.mark.django_db
def test_health_is_unavailable_when_the_broker_is_down(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["broker"] == "error: ConnectionError"


@pytest.mark.redis
@pytest.mark.django_db
def test_health_reports_a_live_broker(client) -> None:
    assert client.get("/health/").json()["broker"] == "ok"


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client) -> None:
    first, second = client.get("/health/"), client.get("/health/")
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    kept = client.get("/health/", headers={"X-Request-ID": "upstream-1234"})
    assert kept["X-Request-ID"] == "upstream-1234"
    forged = client.get("/health/", headers={"X-Request-ID": "bad id\nwith newline"})
    assert forged["X-Request-ID"] != "bad id\nwith newline"
