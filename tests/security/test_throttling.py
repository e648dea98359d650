"""Throttles keyed by the real client address, and never open when Redis is down
(probe items 2 and 3).

The probe sent 40 wrong passwords to the token endpoint, each with a different
X-Forwarded-For: 40 answers of 401 and no 429, because DRF trusted the header. And with
Redis stopped, 30 of 30 attempts went through.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from rest_framework.test import APIClient

from credscope_site.client_address import client_address
from credscope_site.models import ThrottleCounter
from tests.factories import UserFactory

TOKEN = "/api/v1/auth/token/"
SCHEMA = "/api/v1/schema/?format=json"
# A port nothing listens on: every cache call fails at once with a connection error.
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2},
    }
}


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _guess(client: APIClient, number: int, **extra) -> int:
    return client.post(
        TOKEN, {"username": f"nobody{number}", "password": "guess"}, **extra
    ).status_code


@pytest.fixture
def real_redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.REDIS_URL,
            "KEY_PREFIX": "credscope-test-throttle",
        }
    }
    cache.clear()
    yield
    cache.clear()


# --- whose address ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "203.0.113.9"),
        (0, "198.51.100.1", "203.0.113.9"),  # no proxy of ours: the header is a claim
        (1, "198.51.100.1", "198.51.100.1"),  # our proxy wrote the client's address
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client's own entry is ignored
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (1, "6.6.6.6, not-an-address", "203.0.113.9"),  # not written by our proxy
    ],
)
def test_the_client_address_trusts_only_our_proxies(settings, proxies, forwarded, expected) -> None:
    settings.NUM_PROXIES = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", **extra)
    assert client_address(request) == expected


# --- token endpoint: the probe's 40 guesses -------------------------------------------


@pytest.mark.django_db
@pytest.mark.redis
def test_forty_wrong_passwords_with_changing_forwarded_for_are_throttled(
    settings, real_redis_cache
) -> None:
    settings.AXES_ENABLED = False  # the throttle alone, not the account lockout
    client = APIClient()
    codes = [
        _guess(client, n, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}", REMOTE_ADDR="203.0.113.7")
        for n in range(40)
    ]
    assert codes[:20] == [401] * 20  # API_THROTTLE_TOKEN: 20/minute per address
    assert codes[20:] == [429] * 20
    # Another real client (another socket address) is not slowed by the first one's guesses.
    assert _guess(client, 99, REMOTE_ADDR="203.0.113.8") == 401


@pytest.mark.django_db
@pytest.mark.redis
def test_behind_one_proxy_each_client_is_counted_on_its_own(settings, real_redis_cache) -> None:
    settings.AXES_ENABLED = False
    settings.NUM_PROXIES = 1
    _rates(settings, token="3/minute")
    client = APIClient()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the proxy's socket

    def from_client(address: str, spoof: str) -> int:
        # The client claims `spoof`; our proxy appends the address it really saw.
        return _guess(client, 0, HTTP_X_FORWARDED_FOR=f"{spoof}, {address}", **proxy)

    codes = [from_client("198.51.100.1", f"6.6.6.{n}") for n in range(4)]
    assert codes == [401, 401, 401, 429]
    assert from_client("198.51.100.2", "6.6.6.6") == 401


@pytest.mark.django_db
@pytest.mark.redis
def test_anonymous_calls_are_throttled_by_real_address(settings, real_redis_cache) -> None:
    _rates(settings, anon="3/minute")
    client = APIClient()
    codes = [
        client.get(SCHEMA, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]


# --- Redis down ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_redis_down_the_token_throttle_counts_in_the_database(settings) -> None:
    settings.AXES_ENABLED = False
    settings.CACHES = REDIS_DOWN
    _rates(settings, token="5/minute")
    client = APIClient()
    codes = [_guess(client, n, REMOTE_ADDR="203.0.113.7") for n in range(8)]
    assert codes == [401] * 5 + [429] * 3
    counter = ThrottleCounter.objects.get()
    assert counter.scope_key.endswith("203.0.113.7") and counter.count == 8
    throttled = client.post(TOKEN, {"username": "x", "password": "y"}, REMOTE_ADDR="203.0.113.7")
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert _guess(client, 0, REMOTE_ADDR="203.0.113.8") == 401  # per address, still


@pytest.mark.django_db
def test_with_redis_down_signed_in_users_keep_their_limit(settings) -> None:
    user = UserFactory(username="officer", roles=["loan_officer"])
    settings.CACHES = REDIS_DOWN
    _rates(settings, user="3/minute")
    client = APIClient()
    client.force_authenticate(user)
    codes = [client.get("/api/v1/applications/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.django_db
@pytest.mark.postgres
def test_with_redis_and_the_counter_table_down_requests_are_refused_not_let_through(
    settings,
) -> None:
    settings.AXES_ENABLED = False
    settings.CACHES = REDIS_DOWN
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute(f"ALTER TABLE {ThrottleCounter._meta.db_table} RENAME TO gone_away")
    response = APIClient().post(TOKEN, {"username": "x", "password": "y"})
    assert response.status_code == 503
    assert "Request limits cannot be checked" in response.json()["detail"]
    assert response["Retry-After"] == "30"
