"""API tokens: issued for a username and password, stored hashed, expiring, revocable.

django-rest-knox keeps only a SHA-512 digest of each token; the token itself is shown once,
in the response that issues it. A wrong password goes through Django's `authenticate`, whose
failure signal already lands in the audit trail as a failed sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import knox.auth
from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.models import AuthToken
from knox.signals import token_expired

from audits import trail
from audits.actions import AuditAction


class InvalidCredentials(Exception):
    """The username and password do not match an active user."""


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its digest is stored
    expiry: datetime | None
    user: AbstractBaseUser


def api_token_create(*, username: str, password: str, request: HttpRequest | None) -> IssuedToken:
    """Check the credentials and issue a token, with its audit event."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials("Unable to sign in with the username and password given.")
    with transaction.atomic():
        instance, token = AuthToken.objects.create(user=user)
        trail.record(
            action=AuditAction.API_TOKEN_CREATED,
            actor=user,
            target=user,
            payload={"token_key": instance.token_key, "expiry": instance.expiry},
        )
    return IssuedToken(token=token, expiry=instance.expiry, user=user)


def api_token_revoke(*, token: AuthToken, actor: AbstractBaseUser) -> None:
    """Delete the token the request came with, with its audit event."""
    with transaction.atomic():
        token_key = token.token_key
        token.delete()
        trail.record(
            action=AuditAction.API_TOKEN_REVOKED,
            actor=actor,
            target=actor,
            payload={"token_key": token_key},
        )


class TokenAuthentication(knox.auth.TokenAuthentication):
    """knox's token check, without its sweep of the user's other tokens on every request.

    knox deletes the user's other expired tokens each time one is used: one more query on
    every API call, on the hot path of a decision. An expired token is refused all the same
    (its own expiry is still checked); the others are deleted when they are next presented.
    """

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of knox's tokens, for this subclass too."""

    target_class = "credscope_site.tokens.TokenAuthentication"
