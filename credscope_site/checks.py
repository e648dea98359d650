"""System checks that stop a broken build before it serves pages.

Registered under the `staticfiles` tag, so `collectstatic` (which the image runs) refuses to
build without Chart.js: a production image without it would answer 500 on every decided
application and finished batch ("Missing staticfiles manifest entry").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.checks import Error, Tags, register


@register(Tags.staticfiles)
def vendor_files_present(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    missing = [name for name in settings.CREDSCOPE_VENDOR_FILES if not finders.find(name)]
    if not missing:
        return []
    return [
        Error(
            f"static/{name} is missing",
            hint="run `make vendor` (npm ci, then copy Chart.js into static/vendor/)",
            id="credscope.E001",
        )
        for name in missing
    ]
