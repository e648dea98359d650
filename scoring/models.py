"""Model versions, the decision policy, decisions and batch jobs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from typing import Any

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
    # The challenger scores every live decision in the background, beside the champion (the
    # active version), never instead of it. At most one, and never the active one.
    is_challenger = models.BooleanField(default=False)
    challenger_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-trained_at", "-id"]
        permissions = [("activate_modelversion", "Can activate or roll back a model version")]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_model_version"
            ),
            models.UniqueConstraint(
                fields=["is_challenger"],
                condition=Q(is_challenger=True),
                name="one_challenger_model_version",
            ),
            models.CheckConstraint(
                condition=~(Q(is_challenger=True) & Q(status="active")),
                name="challenger_is_not_active",
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
    #: The largest contributions (25, for the details view; `scoring.decide`). A decision
    #: made before `feature_row` was kept stores every item here instead.
    contributions = DocumentJSONField(default=list)
    #: Contribution per explanation key (family, not-provided or no-history bucket):
    #: with `base_value` they add up to `logit`; the families chart is drawn from them.
    family_totals = DocumentJSONField(default=dict)
    #: The model row scored, float32 as the model reads it: with the model version's bundle
    #: it gives back every contribution exactly (`registry.decision_contributions`). NULL
    #: for decisions made before it was kept.
    feature_row = models.BinaryField(null=True, editable=False)
    #: What the age rule took off the logit (12 CFR 1002.6(b)(2)): the age family's
    #: contribution for an applicant aged 62+ that would have raised the risk; else 0.
    age_neutralised = models.FloatField(default=0.0)
    #: The applicant's row count per history table when scored (no-history reasons).
    history_rows = models.JSONField(default=dict, blank=True)
    scoring_latency_ms = models.FloatField()
    #: For a REFER or REJECT, the terms the policy would approve, or why there are none
    #: (`scoring.counteroffers`); NULL until searched (batch rows are searched when read).
    counteroffer = DocumentJSONField(null=True, blank=True)
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


class ChallengerScore(models.Model):
    """What the challenger would have decided on a live application, stored beside the
    champion's `Decision` for comparison. Never shown to officers as the decision."""

    decision = models.ForeignKey(
        Decision, on_delete=models.CASCADE, related_name="challenger_scores"
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    probability_of_default = models.FloatField()
    risk_band = models.CharField(max_length=16, choices=RiskBand.choices)
    # Under the policy that made the champion's decision, so the two differ only by model.
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reasons = models.JSONField(default=list)
    scoring_latency_ms = models.FloatField()
    scored_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-scored_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "model_version"], name="one_challenger_score_per_version"
            ),
            models.CheckConstraint(
                condition=Q(probability_of_default__gte=0) & Q(probability_of_default__lte=1),
                name="challenger_pd_is_a_probability",
            ),
        ]

    def __str__(self) -> str:
        return f"challenger {self.outcome} ({self.probability_of_default:.3f}) #{self.decision_id}"


class DriftReport(models.Model):
    """A drift and expected-performance check of a model version over its live decisions of
    the past week (`scoring.oversight.drift_status`), stored as computed. Celery beat writes
    one weekly; a model admin may ask for one now. The pages read the newest."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Weekly schedule"
        ON_DEMAND = "on_demand", "On demand"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="drift_reports"
    )
    computed_at = models.DateTimeField(db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Decisions the report covers, and its largest PSI (score or feature) for lists.
    rows = models.PositiveIntegerField()
    worst_psi = models.FloatField(null=True, blank=True)
    report = models.JSONField()

    class Meta:
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["model_version", "-computed_at"])]

    def __str__(self) -> str:
        return f"drift of {self.model_version_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class BatchJob(models.Model):
    """A CSV of applications submitted at once; each valid row becomes a LoanApplication.

    The upload checks every row and saves the valid ones as `BatchIntake` ranges in one
    transaction; the chunk task of each range turns its rows into applications and scores
    them, so that the workers, not the web process, do the bulk of the saving.
    """

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
    # Rows that passed validation: each is, or will become, one application of the batch.
    valid_rows = models.PositiveIntegerField(default=0)
    # Row-level validation errors, {"<row number>": {"COLUMN": "message", ...}}.
    row_errors = models.JSONField(default=dict)
    # What identifies each invalid row, as written in the file ({"<row>": {"SK_ID_CURR": ...,
    # "full_name": ...}}), so the results CSV can name the person a rejected line was about.
    row_identities = models.JSONField(default=dict, blank=True)
    # Row-level warnings that did not stop the row, {"<row number>": {"COLUMN": "message"}}:
    # e.g. an SK_ID_CURR already submitted within CREDSCOPE_RESUBMISSION_DAYS.
    row_warnings = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.filename}"


class BatchIntake(models.Model):
    """A range of a batch's valid rows, saved at upload, not yet saved as applications.

    The chunk task for the range saves them (applicants, SUBMITTED applications and their
    audit events) and deletes this in the same transaction, under a row lock, so each row
    becomes one application however often the task is delivered. Nothing stays here once a
    batch has run: the rows live on in the applications.
    """

    batch = models.ForeignKey(BatchJob, on_delete=models.CASCADE, related_name="intakes")
    first_row = models.PositiveIntegerField()
    last_row = models.PositiveIntegerField()
    # The rows as compact UTF-8 JSON (`intake_document`): {"columns": [names], "lines":
    # [[row number, [value per column or null], SK_ID_CURR or null, full name], ...]}. Bytes,
    # not jsonb: PostgreSQL stores them without parsing ~26 MB of JSON per 10,000 rows on the
    # upload's path, and hands them back to the worker without printing it again.
    document = models.BinaryField()
    # The rows' SK_ID_CURRs, for another upload's resubmission warnings meanwhile.
    external_ids = DocumentJSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["batch", "first_row"], name="one_intake_per_range")
        ]

    def __str__(self) -> str:
        return f"rows {self.first_row}-{self.last_row} of batch #{self.batch_id}"

    @property
    def lines(self) -> list[IntakeLine]:
        return intake_lines(self.document)


#: One staged row: its number in the upload, the validated application row (missing columns
#: left out), its SK_ID_CURR or None, and the applicant's name.
IntakeLine = tuple[int, dict[str, Any], int | None, str]


def intake_document(lines: Sequence[IntakeLine]) -> bytes:
    """`lines` as a `BatchIntake.document`: the column names once, then each row's values in
    the order they first appear in. Floats go as their repr, so every value reads back as it
    was. The rows are as validation leaves them, a missing value left out (never None), which
    is what `intake_lines` gives back; their keys' order is not kept (jsonb, where the
    applications store them, keeps none either)."""
    columns = list(dict.fromkeys(chain.from_iterable(row for _, row, _, _ in lines)))
    encoded = {
        "columns": columns,
        "lines": [
            [number, list(map(row.get, columns)), external_id, full_name]
            for number, row, external_id, full_name in lines
        ],
    }
    return json.dumps(encoded, separators=(",", ":"), allow_nan=False).encode()


def intake_lines(document: bytes | memoryview) -> list[IntakeLine]:
    """The lines of a `BatchIntake.document`, as `intake_document` was given them."""
    decoded = json.loads(bytes(document))
    columns = decoded["columns"]
    return [
        (
            number,
            {name: value for name, value in zip(columns, values, strict=True) if value is not None},
            external_id,
            full_name,
        )
        for number, values, external_id, full_name in decoded["lines"]
    ]


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
