"""What every REST endpoint shares: the base view, permissions by operation, the error format,
throttles and pagination.

Errors always have the same shape, and a client's mistake is never a 500:

    {"detail": "Invalid input: 2 fields have problems.",
     "errors": {"AMT_INCOME_TOTAL": "must be greater than 0", "FOO": "unknown field"}}

`errors` maps each field (dotted paths for nested ones, e.g. `history.bureau[0].DAYS_CREDIT`)
to one message; `body` is the request as a whole (malformed JSON, not an object).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from credscope_site.parsers import RequestTooLarge
from credscope_site.throttling import Pagination, TokenThrottle

__all__ = [
    "ApiView",
    "Conflict",
    "Pagination",
    "ServiceUnavailable",
    "StrictInputSerializer",
    "TokenThrottle",
    "exception_handler",
    "field_errors",
    "flatten_errors",
    "requires",
]


class ApiView(APIView):
    """Base of every API class: token or session auth (not the site's login redirect), and a
    permission per operation declared with `@requires(...)` on the handler."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable:
        # Authentication is DRF's job here (401 with a token challenge), not a redirect to the
        # sign-in page by LoginRequiredMiddleware.
        return login_not_required(super().as_view(**initkwargs))

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        handler = getattr(self, (request.method or "").lower(), None)
        permission = getattr(handler, "required_permission", None)
        if permission and not request.user.has_perm(permission):
            self.permission_denied(request, message="Your role may not do this.")


def requires(permission: str) -> Callable[[Callable], Callable]:
    """Mark an API handler as needing `permission` (a `Perm` name)."""

    def mark(handler: Callable) -> Callable:
        handler.required_permission = permission
        return handler

    return mark


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service temporarily unavailable, try again later."
    default_code = "service_unavailable"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that answers 400 for fields it does not know, instead of DRF's
    silent drop: a misspelt `approve_bellow` must not leave the policy unchanged unnoticed."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = (
            {name: "unknown field" for name in sorted(set(data) - set(self.fields))}
            if isinstance(data, Mapping)
            else {}
        )
        try:
            value = super().to_internal_value(data)
        except exceptions.ValidationError as error:
            if unknown and isinstance(error.detail, Mapping):
                raise exceptions.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise exceptions.ValidationError(unknown)
        return value


def refusal(message: str, *, status_code: int, code: str | None = None) -> exceptions.APIException:
    """A service's refusal as the status it names: 409 Conflict (not now), else 403 (not you)."""
    if status_code == status.HTTP_409_CONFLICT:
        return Conflict(message, code=code)
    return exceptions.PermissionDenied(message, code=code)


def field_errors(errors: Mapping[str, str]) -> exceptions.ValidationError:
    """A 400 naming each field and its problem."""
    return exceptions.ValidationError(dict(errors))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # a body without Content-Length, read too far
        exc = RequestTooLarge()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        count = len(errors)
        response.data = {
            "detail": f"Invalid input: {count} field{'s' if count != 1 else ''} "
            f"{'have' if count != 1 else 'has'} problems.",
            "errors": errors,
        }
    elif isinstance(exc, exceptions.ParseError):
        response.data = {"detail": "Malformed request body.", "errors": {"body": str(exc.detail)}}
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        response.data = {"detail": str(exc.detail), "errors": {"body": str(exc.detail)}}
    if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response.setdefault("Retry-After", "30")
    return response


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, str]:
    """DRF's nested error detail as {"field.sub[0].x": "first message"}."""
    out: dict[str, str] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "body" if key == api_settings.NON_FIELD_ERRORS_KEY and not prefix else key
            path = f"{prefix}.{name}" if prefix else str(name)
            out.update(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            if detail:
                out[prefix or "body"] = " ".join(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "body"] = str(detail)
    return out
