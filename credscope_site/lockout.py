"""What a locked-out client is told (django-axes' AXES_LOCKOUT_CALLABLE).

One lockout, three doors: the API answers in its error format, the sign-in pages with a page.
Both say when to try again and carry Retry-After; neither says whether the username exists.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


def cool_off_minutes() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    minutes = cool_off_minutes()
    message = (
        "Too many failed sign-ins from this account or address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": message, "errors": {"body": message}}, status=LOCKED_OUT_STATUS
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": message, "minutes": minutes},
            status=LOCKED_OUT_STATUS,
        )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
