"""Model versions, the decision policy, decisions and batch jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from credscope_site.fields import DocumentJSONField


class ModelVersion(models.Model):
    """One trained bundle on disk under CREDSCOPE_MODEL_DIR, and its metrics.

    At most one version is ACTIVE (a partial unique constraint); scoring always uses it.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    version = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    profile = models.CharField(max_length=16)
    bundle_path = models.CharField(max_length=500)
    feature_count = models.PositiveIntegerField()
    data_fingerprint = models.CharField(max_length=128, blank=True)
    # Headline figures, copied out of `metrics` so lists can sort and show them.
    auc = models.FloatField(null=True, blank=True)
    gini = models.FloatField(null=True, blank=True)
    ks = models.FloatField(null=True, blank=True)
    brier = models.FloatField(null=True, blank=True)
    oracle_auc = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    trained_at = models.DateTimeField(auto_now_add=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-trained_at", "-id"]
        permissions = [("activate_modelversion", "Can activate or roll back a model version")]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_model_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"


class RiskBand(models.TextChoices):
    VERY_LOW = "VERY_LOW", "Very low"
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    VERY_HIGH = "VERY_HIGH", "Very high"


class Outcome(models.TextChoices):
    APPROVE = "APPROVE", "Approve"
    REFER = "REFER", "Refer"
    REJECT = "REJECT", "Reject"


class DecisionPolicy(models.Model):
    """Versioned thresholds on the probability of default (PD). Never edited: each change is a
    new version; the newest is in force.

    Bands: PD < very_low_below is VERY_LOW, < low_below LOW, < medium_below MEDIUM,
    < high_below HIGH, else VERY_HIGH. Outcome: PD < approve_below APPROVE,
    PD >= reject_at_or_above REJECT, otherwise REFER to a person.
    """

    version = models.PositiveIntegerField(unique=True)
    very_low_below = models.FloatField()
    low_below = models.FloatField()
    medium_below = models.FloatField()
    high_below = models.FloatField()
    approve_below = models.FloatField()
    reject_at_or_above = models.FloatField()
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "decision policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(very_low_below__gt=0)
                & Q(low_below__gt=F("very_low_below"))
                & Q(medium_below__gt=F("low_below"))
                & Q(high_below__gt=F("medium_below"))
                & Q(high_below__lt=1),
                name="policy_bands_increasing_within_0_1",
            ),
            models.CheckConstraint(
                condition=Q(approve_below__gt=0)
                & Q(reject_at_or_above__gte=F("approve_below"))
                & Q(reject_at_or_above__lte=1),
                name="policy_outcome_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"policy v{self.version}"


class Decision(models.Model):
    """The model's decision on one application. One per application (the unique key is what
    makes a redelivered scoring task harmless). Overrides are stored beside it, never over it.
    """

    application = models.OneToOneField(
        "applicants.LoanApplication", on_delete=models.PROTECT, related_name="decision"
    )
    probability_of_default = models.FloatField()
    logit = models.FloatField()
    risk_band = models.CharField(max_length=16, choices=RiskBand.choices)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey(DecisionPolicy, on_delete=models.PROTECT, related_name="+")
    reasons = DocumentJSONField(default=list)
    base_value = models.FloatField()
    contributions = DocumentJSONField(default=list)
    scoring_latency_ms = models.FloatField()
    decided_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-decided_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability_of_default__gte=0) & Q(probability_of_default__lte=1),
                name="decision_pd_is_a_probability",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} ({self.probability_of_default:.3f}) for #{self.application_id}"


class BatchJob(models.Model):
    """A CSV of applications submitted at once; each valid row becomes a LoanApplication."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batch_jobs"
    )
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    # Row-level validation errors, {"<row number>": {"COLUMN": "message", ...}}.
    row_errors = models.JSONField(default=dict)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.filename}"


class DecisionOverride(models.Model):
    """A person's decision on a REFER, stored beside the model's decision, never over it."""

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="override")
    outcome = models.CharField(
        max_length=8, choices=[(Outcome.APPROVE, "Approve"), (Outcome.REJECT, "Reject")]
    )
    justification = models.TextField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="overrides"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["APPROVE", "REJECT"]), name="override_outcome_final"
            ),
            models.CheckConstraint(
                condition=~Q(justification=""), name="override_has_justification"
            ),
        ]
        permissions = [
            ("override_high_risk", "Can override model rejections and high-risk decisions"),
        ]

    def __str__(self) -> str:
        return f"override {self.outcome} of decision #{self.decision_id}"
