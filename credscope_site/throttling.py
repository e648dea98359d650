"""Throttles and pagination named in REST_FRAMEWORK settings.

Kept apart from `credscope_site.api` because DRF imports these while it builds `APIView`
itself; importing DRF's views from here would be circular.

Counting lives in the cache (Redis). When Redis is down the throttles do not fail open: they
count in the database instead (a fixed window per key, one atomic upsert per request), and
when the database cannot count either the request is refused with 503.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.db import DatabaseError, connection, transaction
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from credscope_site.client_address import client_address
from credscope_site.models import ThrottleCounter

logger = logging.getLogger(__name__)
_CACHE_ERRORS = (redis.RedisError, OSError)

# One statement, atomic on PostgreSQL and SQLite alike: concurrent requests never lose a count.
_UPSERT = (
    "INSERT INTO credscope_site_throttlecounter (scope_key, window_start, count) "
    "VALUES (%s, %s, 1) ON CONFLICT (scope_key, window_start) DO UPDATE SET count = "
    "credscope_site_throttlecounter.count + 1 RETURNING count"
)


class ThrottleUnavailable(exceptions.APIException):
    """Neither the cache nor the database can count requests: refuse rather than allow."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Request limits cannot be checked right now; try again shortly."
    default_code = "throttle_unavailable"


def database_count(*, key: str, duration: int) -> tuple[int, int]:
    """Count one request for `key` in the current window of `duration` seconds.

    Returns (the count including this request, seconds until the window ends)."""
    now = int(time.time())
    window = now - now % duration
    # A savepoint: a failed count must not poison the transaction of the request around it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key, window])
        (count,) = cursor.fetchone()
    if count == 1:  # first request of a new window: drop this key's finished windows
        ThrottleCounter.objects.filter(scope_key=key, window_start__lt=window).delete()
    return count, window + duration - now


class _SettingsRate:
    """Read the rate when it is needed (settings overrides and tests take effect), key
    anonymous callers by their real address (see `client_address`), and keep counting when
    the cache is down."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request: Request) -> str:
        return client_address(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except _CACHE_ERRORS as error:
            logger.warning("throttle cache unavailable, counting in the database: %s", error)
        return self._allow_by_database(request, view)

    def _allow_by_database(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            count, remaining = database_count(key=key, duration=self.duration)
        except DatabaseError as error:
            logger.error("throttle cannot count in the database either, refusing: %s", error)
            raise ThrottleUnavailable() from None
        self._fallback_wait = remaining
        return count <= self.num_requests

    def wait(self) -> float | None:
        fallback = getattr(self, "_fallback_wait", None)
        return fallback if fallback is not None else super().wait()


class UserThrottle(_SettingsRate, UserRateThrottle):
    """Per signed-in user (per address for anonymous callers)."""

    scope = "user"


class AnonymousThrottle(_SettingsRate, AnonRateThrottle):
    scope = "anon"


class TokenThrottle(_SettingsRate, SimpleRateThrottle):
    """Token requests, per client address: slows password guessing."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class Pagination(PageNumberPagination):
    """Pages of a list. A `page` or `page_size` that is not a whole number of 1 or more is a
    400 naming it (DRF answers 404 "Invalid page." for one, ignores the other); a page past
    the last is a 404 saying how many there are. `page_size` is capped at `max_page_size`."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdecimal() and int(raw) >= 1):
            raise exceptions.ValidationError(
                {self.page_size_query_param: "must be a whole number of 1 or more"}
            )
        return super().get_page_size(request)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        raw = request.query_params.get(self.page_query_param, "1")
        if raw not in self.last_page_strings and not (
            raw.isascii() and raw.isdecimal() and int(raw) >= 1
        ):
            raise exceptions.ValidationError(
                {self.page_query_param: "must be a whole number of 1 or more"}
            )
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            pages = self.django_paginator_class(queryset, self.get_page_size(request)).num_pages
            raise exceptions.NotFound(
                f"No page {raw}: the list has {pages} page{'s' if pages != 1 else ''}."
            ) from None
