"""WSGI entry point (gunicorn credscope_site.wsgi; runserver loads it too)."""

import os

from django.core.wsgi import get_wsgi_application

from credscope_site.config import ConfigurationError, exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credscope_site.settings.production")

try:
    application = get_wsgi_application()
except ConfigurationError as error:
    exit_on_configuration_error(error)

# Warm start, here and not in AppConfig.ready (which every management command, migrate
# included, runs): a web process loads and compiles the active model before it serves, so
# its first decision is as fast as the rest. Imported after Django is set up, as it must be.
from django.conf import settings

from credscope_site.process_heap import heap_freeze
from scoring import registry

if settings.CREDSCOPE_WARM_START:
    registry.scorer_warm()
    heap_freeze()  # the warm model, out of every later full collection's walk
    # ...and loads each version announced for activation before it decides (needs Redis).
    registry.activation_listener_start()
