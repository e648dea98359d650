"""Every action the audit trail knows, named once."""

from django.db import models


class AuditAction(models.TextChoices):
    LOGIN = "auth.login", "Signed in"
    LOGOUT = "auth.logout", "Signed out"
    LOGIN_FAILED = "auth.login_failed", "Failed sign-in"
    DEMO_USERS_CREATED = "auth.demo_users_created", "Demo users created"
    TRAIL_VERIFIED = "audit.trail_verified", "Audit trail verified"
