"""The audit chain's keys, as settings hold them (AUDIT_CHAIN_KEY; docs/AUDIT.md).

Kept apart from `trail` so the checkpoint sinks can sign without importing the trail.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

#: Events written before the chain was keyed carry this key id and a plain sha256 hash.
UNKEYED = ""


class UnknownKeyError(LookupError):
    """A key id that neither AUDIT_CHAIN_KEY nor AUDIT_CHAIN_RETIRED_KEYS provides."""


def signing_key_id() -> str:
    """The id of the key that signs new events and checkpoints (the newest)."""
    return settings.AUDIT_CHAIN_KEY_ID


def sign(key_id: str, message: str) -> str:
    """HMAC-SHA256 of `message` under the key `key_id`, as hex; sha256 for UNKEYED."""
    if key_id == UNKEYED:
        return hashlib.sha256(message.encode()).hexdigest()
    try:
        key = settings.AUDIT_CHAIN_KEYS[key_id]
    except KeyError:
        raise UnknownKeyError(key_id) from None
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def matches(key_id: str, message: str, expected: str) -> bool:
    """Whether `expected` is the signature of `message` (constant-time comparison)."""
    return hmac.compare_digest(sign(key_id, message), expected)
