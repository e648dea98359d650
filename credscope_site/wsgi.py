"""WSGI entry point (gunicorn credscope_site.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from credscope_site.config import ConfigurationError, exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.production")

try:
    application = get_wsgi_application()
except ConfigurationError as error:
    exit_on_configuration_error(error)
