"""Site-wide tables."""

from __future__ import annotations

from django.db import models


class ThrottleCounter(models.Model):
    """Requests counted per throttle key and fixed time window, used only while the cache
    (Redis) is down, so an outage of the counter store never lets requests through unlimited.
    """

    scope_key = models.CharField(max_length=200)
    window_start = models.BigIntegerField(
        help_text="Start of the window, in seconds since the epoch."
    )
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope_key", "window_start"], name="throttle_counter_key_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope_key} @ {self.window_start}: {self.count}"
