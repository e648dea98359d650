"""Throttles and pagination named in REST_FRAMEWORK settings.

Kept apart from `credscope_site.api` because DRF imports these while it builds `APIView`
itself; importing DRF's views from here would be circular.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)
_CACHE_ERRORS = (redis.RedisError, OSError)


class _SettingsRate:
    """Read the rate when it is needed, so settings overrides (and tests) take effect; and
    fail open when the cache (Redis) is down: an outage of the counter store must not turn
    every request into a 500, least of all the ones that would report the outage."""

    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except _CACHE_ERRORS as error:
            logger.warning("throttle cache unavailable, request let through: %s", error)
            return True


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
    page_size_query_param = "page_size"
    max_page_size = 200
