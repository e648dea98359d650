"""The audit trail's storage. Rows are written only by `audits.trail.record`."""

from django.conf import settings
from django.db import models

from credscope_site.fields import DocumentJSONField


class AuditEvent(models.Model):
    """One recorded action: who did what to which object, hash-chained to the event before it.

    `hash` is sha256(prev_hash + canonical JSON of the content), so editing any row breaks its
    own hash and deleting one breaks the next row's `prev_hash`. `sequence` numbers the chain
    from 1 without gaps; unique `sequence` and `prev_hash` make a forked chain impossible to
    store. On PostgreSQL a trigger rejects UPDATE and DELETE (migration 0002).
    """

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True, editable=False)
    # PROTECT: a user with recorded actions is deactivated, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        editable=False,
    )
    actor_name = models.CharField(max_length=150, editable=False)
    action = models.CharField(max_length=64, db_index=True, editable=False)
    target_type = models.CharField(max_length=100, blank=True, editable=False)
    target_id = models.CharField(max_length=64, blank=True, editable=False)
    payload = DocumentJSONField(default=dict, blank=True, editable=False)
    request_id = models.CharField(max_length=64, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, unique=True, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-sequence"]
        default_permissions = ("view",)
        indexes = [models.Index(fields=["target_type", "target_id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sequence__gte=1), name="auditevent_sequence_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_name}"


class FairnessAudit(models.Model):
    """A fair-lending audit of the decisions of a period, run by a Celery task.

    Its figures are kept as an immutable snapshot (inputs, figures, code and model versions)
    whose sha256 is written to the audit trail. Once signed off by a compliance user nothing
    of it may change: a new audit is run instead. On PostgreSQL a trigger enforces both
    (migration 0005); `audits.fairness_services` refuses first, with a message.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    date_from = models.DateField()
    date_to = models.DateField()
    attributes = models.JSONField(default=list)
    model_version = models.CharField(max_length=64, blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=8, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="empty for the monthly scheduled audit",
    )
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    verdict = models.CharField(max_length=8, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    sign_off_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("sign_off_fairnessaudit", "Can sign off a fair-lending audit")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_to__gte=models.F("date_from")),
                name="fairness_audit_period_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(signed_off_at__isnull=True)
                | (models.Q(status="done") & ~models.Q(sign_off_comment="")),
                name="fairness_audit_signed_only_when_done_with_comment",
            ),
        ]

    def __str__(self) -> str:
        return f"fairness audit #{self.pk} {self.date_from}..{self.date_to} ({self.status})"

    @property
    def is_signed(self) -> bool:
        return self.signed_off_at is not None
