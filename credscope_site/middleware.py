"""Request ids: one per request, on the response, in every log line and audit event."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

_current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "credscope_request_id", default="-"
)
# An upstream proxy's id is kept only if it is short and plain, so logs cannot be forged.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside a request."""
    value = _current_request_id.get()
    return None if value == "-" else value


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current_request_id.get()
        return True


class NoStoreMiddleware:
    """Nothing CredScope renders may be kept by a browser or a proxy: pages, API answers and
    CSV files carry applicants' personal data, and a shared or back-button cache would show
    them to the next person. Static files never reach this (whitenoise answers them first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, private, max-age=0"
        return response


# Bodies that are files, with their own (larger) limit checked by the batch endpoint.
_UPLOAD_TYPES = ("text/csv", "multipart/form-data")


class ApiBodyLimitMiddleware:
    """An API request whose declared body is over the JSON limit gets the API's JSON 413 here,
    before anything reads it. Without this, Django's own limit answered with an HTML 400 page.
    Uploads (CSV, multipart) are left to the batch endpoint's limit and field error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/") and not request.content_type.startswith(_UPLOAD_TYPES):
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            limit = settings.API_MAX_JSON_BYTES
            if declared > limit:
                message = f"The body is {declared:,} bytes; the limit is {limit:,} bytes."
                return JsonResponse({"detail": message, "errors": {"body": message}}, status=413)
        return self.get_response(request)
