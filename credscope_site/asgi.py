"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

from credscope_site.config import ConfigurationError, exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.production")

try:
    application = get_asgi_application()
except ConfigurationError as error:
    exit_on_configuration_error(error)
