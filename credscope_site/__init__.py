"""CredScope's project package: settings, URLs, the Celery app, roles and site-wide pages."""

from .celery import app as celery_app

__all__ = ("celery_app",)
