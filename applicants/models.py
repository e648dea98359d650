"""Applicants and their loan applications."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from credscope_site.fields import DocumentJSONField


class Applicant(models.Model):
    """A person applying for credit.

    Protected attributes (gender, age via DAYS_BIRTH) are kept here for fairness audits; they
    never enter the model by default. `external_id` is the SK_ID_CURR under which this person's
    bureau and previous-application history is known, if any.
    """

    class Gender(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        UNKNOWN = "XNA", "Not stated"

    full_name = models.CharField(max_length=200, blank=True, db_index=True)
    external_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    code_gender = models.CharField(max_length=3, choices=Gender.choices, default=Gender.UNKNOWN)
    days_birth = models.IntegerField(help_text="Age in days before the application, negative")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applicants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(days_birth__lt=0), name="applicant_born_before"),
        ]

    def __str__(self) -> str:
        return self.full_name or f"applicant #{self.pk}"


class LoanApplication(models.Model):
    """One request for credit and the exact inputs it was scored on.

    `application_row` holds the Kaggle application columns as submitted (a snapshot, so any
    decision can be reproduced); `history` holds history rows a REST client sent inline.
    Status moves SUBMITTED -> SCORING -> DECIDED, or to FAILED with `failure_reason`.
    """

    class Status(models.TextChoices):
        SUBMITTED = "SUBMITTED", "Submitted"
        SCORING = "SCORING", "Scoring"
        DECIDED = "DECIDED", "Decided"
        FAILED = "FAILED", "Failed"

    class Channel(models.TextChoices):
        WEB = "web", "Web form"
        API = "api", "REST API"
        BATCH = "batch", "CSV batch"

    class ContractType(models.TextChoices):
        CASH = "Cash loans", "Cash loan"
        REVOLVING = "Revolving loans", "Revolving loan"

    applicant = models.ForeignKey(Applicant, on_delete=models.PROTECT, related_name="applications")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="loan_applications",
        db_index=False,  # application_list_by_officer leads with it
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True
    )
    contract_type = models.CharField(max_length=20, choices=ContractType.choices)
    amt_income_total = models.DecimalField(max_digits=14, decimal_places=2)
    amt_credit = models.DecimalField(max_digits=14, decimal_places=2)
    amt_annuity = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amt_goods_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    application_row = DocumentJSONField()
    history = DocumentJSONField(default=dict, blank=True)
    # NULL, not "", means "no key", so the partial unique constraint below skips it.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)
    batch = models.ForeignKey(
        "scoring.BatchJob",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    batch_row = models.PositiveIntegerField(null=True, blank=True)
    #: The application whose counteroffer this one accepted (one acceptance per offer).
    counteroffer_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accepted_counteroffer",
    )
    # Which scoring task holds the claim and since when: a redelivery of that same task may
    # carry on; any other task stops; the sweeper frees claims older than the time limit.
    scoring_claim = models.CharField(max_length=64, blank=True)
    scoring_claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        permissions = [("view_all_loanapplications", "Can read every officer's applications")]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="idempotency_key_unique_per_client",
            ),
            models.UniqueConstraint(
                fields=["batch", "batch_row"],
                condition=Q(batch__isnull=False),
                name="one_application_per_batch_row",
            ),
            models.CheckConstraint(
                condition=Q(amt_income_total__gt=0) & Q(amt_credit__gt=0),
                name="application_amounts_positive",
            ),
        ]
        # The lists' order, whole: a batch's rows share one submission time, and with the
        # time alone indexed, the first page of an officer with a 10,000-row batch joined and
        # sorted all 10,000 rows (60 ms) to show one.
        indexes = [
            models.Index(
                fields=["created_by", "-submitted_at", "-id"], name="application_list_by_officer"
            ),
            models.Index(fields=["-submitted_at", "-id"], name="application_list_newest_first"),
        ]

    def __str__(self) -> str:
        return f"application #{self.pk} ({self.status})"


class LoanOutcome(models.Model):
    """What became of a decided application: repaid or defaulted, observed on a date.

    Recorded by compliance or model admins (API, CSV import) so fairness audits can compare
    error rates by group. One per application; a recorded outcome is never overwritten.
    """

    class Result(models.TextChoices):
        REPAID = "repaid", "Repaid"
        DEFAULTED = "defaulted", "Defaulted"

    application = models.OneToOneField(
        LoanApplication, on_delete=models.PROTECT, related_name="recorded_outcome"
    )
    outcome = models.CharField(max_length=10, choices=Result.choices)
    observed_at = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=255, blank=True, help_text="API, or the imported file")

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=["repaid", "defaulted"]), name="loan_outcome_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} for application #{self.application_id}"
