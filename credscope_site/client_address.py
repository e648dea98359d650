"""The address a request really came from, one definition for throttles and lockouts.

`X-Forwarded-For` is written by whoever sends the request, so it is trusted only as far as
`NUM_PROXIES` says: with 0 (the default, the app is reached directly) the socket's address is
the client; with N proxies in front, each appending the address it saw, the client is the Nth
entry from the right, the one our own outermost proxy wrote. Entries further left are the
client's own claims and are never used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Our proxy writes addresses; anything else was not written by it.
        return remote
