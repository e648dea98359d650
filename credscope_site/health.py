"""Is this process able to serve? Database and, when configured, the broker."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection


def check() -> dict:
    checks = {"database": _database(), "broker": _broker()}
    healthy = all(value in ("ok", "not configured") for value in checks.values())
    return {"status": "ok" if healthy else "unavailable", **checks}


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # any failure means "not healthy", reported by its kind
        return f"error: {error.__class__.__name__}"


def _broker() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
        return "ok"
    except redis.RedisError as error:
        return f"error: {error.__class__.__name__}"
