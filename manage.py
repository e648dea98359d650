#!/usr/bin/env python
"""Django's command-line utility for CredScope."""

import os
import sys

from django.conf import settings
from django.core.management import execute_from_command_line

from credscope_site.config import ConfigurationError, exit_on_configuration_error


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.local")
    try:
        settings.INSTALLED_APPS  # noqa: B018 - load settings now, so a bad environment fails here
    except ConfigurationError as error:
        exit_on_configuration_error(error)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
