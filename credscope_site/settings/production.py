"""Production: DEBUG off, every secret from the environment, HTTPS enforced.

`python manage.py check --deploy` passes without warnings with the variables in .env.example.
"""

import os

os.environ.setdefault("DEBUG", "false")

from credscope_site.config import ConfigurationError, production_secret_key

from .base import *  # noqa: F403
from .base import DEBUG, SECRET_KEY, env, env_flag

if DEBUG:
    raise ConfigurationError("DEBUG must be off with credscope_site.settings.production")
SECRET_KEY = production_secret_key(SECRET_KEY)
if not ALLOWED_HOSTS:  # noqa: F405
    raise ConfigurationError("ALLOWED_HOSTS must be set in production (comma-separated)")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=True)
# Probes inside the compose network speak plain HTTP to the health endpoint.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# JSON logs, each line with the request id (LOG_FORMAT=plain for a person at a terminal).
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="json")  # noqa: F405
