"""Every action the audit trail knows, named once."""

from django.db import models


class AuditAction(models.TextChoices):
    LOGIN = "auth.login", "Signed in"
    LOGOUT = "auth.logout", "Signed out"
    LOGIN_FAILED = "auth.login_failed", "Failed sign-in"
    DEMO_USERS_CREATED = "auth.demo_users_created", "Demo users created"
    TRAIL_VERIFIED = "audit.trail_verified", "Audit trail verified"
    MODEL_TRAINED = "model.trained", "Model trained"
    MODEL_ACTIVATED = "model.activated", "Model activated"
    DECISION_OVERRIDDEN = "decision.overridden", "Decision overridden"
    APPLICATION_SUBMITTED = "application.submitted", "Application submitted"
    APPLICATION_DECIDED = "application.decided", "Application decided"
    APPLICATION_FAILED = "application.failed", "Application scoring failed"
    APPLICATION_REQUEUED = "application.requeued", "Application re-queued for scoring"
    POLICY_CREATED = "policy.created", "Decision policy version created"
    BATCH_SUBMITTED = "batch.submitted", "Batch submitted"
    BATCH_FINISHED = "batch.finished", "Batch finished"
    API_TOKEN_CREATED = "auth.api_token_created", "API token issued"
    API_TOKEN_REVOKED = "auth.api_token_revoked", "API token revoked"
    OUTCOME_RECORDED = "application.outcome_recorded", "Loan outcome recorded"
    OUTCOMES_IMPORTED = "application.outcomes_imported", "Loan outcomes imported"
    FAIRNESS_AUDIT_REQUESTED = "fairness.requested", "Fairness audit requested"
    FAIRNESS_AUDIT_COMPLETED = "fairness.completed", "Fairness audit completed"
    FAIRNESS_AUDIT_FAILED = "fairness.failed", "Fairness audit failed"
    FAIRNESS_AUDIT_SIGNED_OFF = "fairness.signed_off", "Fairness audit signed off"
