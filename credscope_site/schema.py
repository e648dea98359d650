"""The OpenAPI schema, exact about errors: every operation lists the error statuses it can
answer, each with the one error body every endpoint sends (see `credscope_site.api`).

drf-spectacular documents what a view declares; the statuses that come from the shared
machinery (authentication, role permissions, throttles, the JSON parser's 400 and 413, a
missing id's 404) are added here from the view's own configuration, so no view repeats them
and none can forget one.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    """Every error: a sentence, and for bad input the problem of each field (dotted paths for
    nested ones; `body` for the request as a whole)."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.CharField(), required=False)


ERROR_DESCRIPTIONS = {
    400: "Invalid input; `errors` names each field and its problem.",
    401: "Not authenticated (send `Authorization: Token <token>`), or a wrong password.",
    403: "Your role may not do this.",
    404: "No such object among those you may see (or, for a list, no such page).",
    409: "Conflicts with the current state.",
    413: "The request body is over the limit.",
    415: "Unsupported Content-Type.",
    429: "Too many requests, or sign-in locked after repeated failures (see Retry-After).",
    503: "Temporarily unavailable (see Retry-After).",
}


class CredScopeAutoSchema(AutoSchema):
    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        # django-filter reads a blank value (`?status=`, as an empty form field sends) as no
        # filter, the way HTML forms mean it; say so, or a blank looks like an invalid value.
        return [
            {**parameter, "allowEmptyValue": True} if parameter.get("in") == "query" else parameter
            for parameter in super()._get_filter_parameters()
        ]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(self._error_codes() | {int(c) for c in responses if c >= "400"}):
            key = str(code)
            declared = responses.get(key)
            if declared is None or self._is_free_form(declared):
                body = self._get_response_for_code(ErrorSerializer, key, direction=direction)
                body["description"] = ERROR_DESCRIPTIONS.get(code, "Error.")
                responses[key] = body
        return responses

    @staticmethod
    def _is_free_form(response: dict[str, Any]) -> bool:
        content = response.get("content")
        if not content:
            return True
        schemas = [media.get("schema", {}) for media in content.values()]
        return all(s.get("type") == "object" and "$ref" not in s and "properties" not in s
                   for s in schemas)  # fmt: skip

    def _error_codes(self) -> set[int]:
        codes: set[int] = set()
        has_body = (
            self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        )
        public = any(isinstance(p, AllowAny) for p in self.view.get_permissions())
        if has_body:
            codes |= {400, 413, 415}
        elif any(p.get("in") == "query" for p in self._get_parameters()):
            codes.add(400)
        if not public:
            codes |= {401, 403}
        if "{" in self.path or getattr(self.view, "pagination_class", None):
            codes.add(404)  # no such object, or a page past the last
        if self.view.get_throttles():
            codes |= {429, 503}  # 503: neither Redis nor the database can count
        return codes
