"""Site-wide API endpoints: tokens and health."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from credscope_site import health
from credscope_site.api import ApiView, TokenThrottle
from credscope_site.roles import roles_of
from credscope_site.tokens import InvalidCredentials, api_token_create, api_token_revoke
from scoring.registry import active_model_version


class TokenCreateApi(ApiView):
    """Exchange a username and password for an API token (send it as `Authorization: Token
    <token>`). Tokens expire; only their digest is stored."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema_serializer(component_name="TokenRequest")
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema_serializer(component_name="Token")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expiry = serializers.DateTimeField(allow_null=True)
        username = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"  # a wrong password is a 401 with the scheme to use, not a 403

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            issued = api_token_create(**serializer.validated_data, request=request._request)
        except InvalidCredentials as error:
            raise AuthenticationFailed(str(error)) from None
        output = {
            "token": issued.token,
            "expiry": issued.expiry,
            "username": issued.user.get_username(),
            "roles": [role.value for role in roles_of(issued.user)],
        }
        return Response(self.OutputSerializer(output).data)


class TokenDestroyApi(ApiView):
    """Revoke the token this request is made with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, AuthToken):
            raise AuthenticationFailed("Sign out needs the token to revoke.")
        api_token_revoke(token=request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class HealthApi(ApiView):
    """Can this process serve: database, broker and an active model. 503 when not."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "broker": serializers.CharField(),
                    "active_model": serializers.CharField(allow_null=True),
                },
            ),
            503: None,
        },
        auth=[],
    )
    def get(self, request: Request) -> Response:
        report = health.check()
        try:
            model = active_model_version()
        except Exception:  # the database check above already says why
            model = None
        report["active_model"] = model.version if model else None
        healthy = report["status"] == "ok" and model is not None
        report["status"] = "ok" if healthy else "unavailable"
        if not settings.REDIS_URL:
            report["broker"] = "not configured (tasks run in process)"
        code = status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(report, status=code)
