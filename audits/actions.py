"""Every action the audit trail knows, named once."""

from django.db import models


class AuditAction(models.TextChoices):
    LOGIN = "auth.login", "Signed in"
    LOGOUT = "auth.logout", "Signed out"
    LOGIN_FAILED = "auth.login_failed", "Failed sign-in"
    LOGIN_LOCKED_OUT = "auth.login_locked_out", "Sign-in locked after repeated failures"
    DEMO_USERS_CREATED = "auth.demo_users_created", "Demo users created"
    TRAIL_VERIFIED = "audit.trail_verified", "Audit trail verified"
    AUDIT_REKEYED = "audit.rekeyed", "Audit chain re-keyed"
    TRAIL_VERIFICATION_REQUESTED = "audit.verification_requested", "Chain verification requested"
    TRAIL_EXPORTED = "audit.trail_exported", "Audit trail exported"
    MODEL_TRAINED = "model.trained", "Model trained"
    MODEL_ACTIVATED = "model.activated", "Model activated"
    DECISION_OVERRIDDEN = "decision.overridden", "Decision overridden"
    DECISION_OVERRIDE_REFUSED = "decision.override_refused", "Override refused"
    APPLICATION_SUBMITTED = "application.submitted", "Application submitted"
    APPLICATION_DECIDED = "application.decided", "Application decided"
    APPLICATION_FAILED = "application.failed", "Application scoring failed"
    APPLICATION_REQUEUED = "application.requeued", "Application re-queued for scoring"
    POLICY_CREATED = "policy.created", "Decision policy version created"
    BATCH_SUBMITTED = "batch.submitted", "Batch submitted"
    BATCH_FINISHED = "batch.finished", "Batch finished"
    API_TOKEN_CREATED = "auth.api_token_created", "API token issued"
    API_TOKEN_REVOKED = "auth.api_token_revoked", "API token revoked"
