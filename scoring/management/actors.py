"""What the model commands share: the user named on the command line as the actor."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def actor_named(username: str | None):
    """The user recorded in the audit trail (None when no --user was given)."""
    if username is None:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user
