"""The audit trail's storage. Rows are written only by `audits.trail.record`."""

from django.conf import settings
from django.db import models

from credscope_site.fields import DocumentJSONField


class AuditEvent(models.Model):
    """One recorded action: who did what to which object, hash-chained to the event before it.

    `hash` is HMAC-SHA256(key `key_id`, prev_hash + canonical JSON of the content), the key
    coming from the environment, so editing any row breaks its own hash, deleting one breaks
    the next row's `prev_hash`, and nobody without the key can re-sign what follows. Events
    from before the chain was keyed have an empty `key_id` and a plain sha256 (docs/AUDIT.md).
    `sequence` numbers the chain from 1 without gaps; unique `sequence` and `prev_hash` make a
    forked chain impossible to store. On PostgreSQL triggers reject UPDATE, DELETE (migration
    0002) and TRUNCATE.
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
    # Which AUDIT_CHAIN_KEY signed `hash` (the secret itself never enters the database).
    key_id = models.CharField(max_length=32, blank=True, default="", editable=False)

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


class FailedSignInWindow(models.Model):
    """Failed sign-ins for one attempted username from one address in one time window.

    A counter, not a record: the audit trail gets an event when the count reaches 1, 10,
    100, ... and one for the rest when the window closes (audits.auth_events), so a burst of
    guesses adds a handful of events, each with its count. Rows are deleted once reported.
    """

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=45, blank=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    reported = models.PositiveIntegerField(default=0)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["username", "address", "window_start"], name="failedsignin_one_window"
            ),
            models.CheckConstraint(
                condition=models.Q(reported__lte=models.F("count")),
                name="failedsignin_reported_lte_count",
            ),
        ]
        indexes = [models.Index(fields=["window_start"])]

    def __str__(self) -> str:
        return f"{self.count} failed sign-in(s) as {self.username!r} from {self.address}"


class ChainVerificationRun(models.Model):
    """One run of `trail.verify()`, asked for from the trail page or by the nightly beat.

    Compliance cannot run a shell command; the "Verify chain" button creates a PENDING run, a
    Celery task fills in the verdict, and the dashboard shows the latest.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        INTACT = "intact", "Intact"
        BROKEN = "broken", "Broken"
        FAILED = "failed", "Could not run"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    events_checked = models.PositiveBigIntegerField(default=0)
    head_sequence = models.PositiveBigIntegerField(default=0)
    checkpoints_checked = models.PositiveIntegerField(default=0)
    # e.g. "9 (sequence 4500, file /app/var/audit-checkpoints/checkpoints.jsonl)"
    checkpoint_reached = models.CharField(max_length=300, blank=True)
    verdict = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"chain verification {self.pk}: {self.status}"

    @property
    def done(self) -> bool:
        return self.status in (self.Status.INTACT, self.Status.BROKEN, self.Status.FAILED)


class FairnessAudit(models.Model):
    """A fair-lending audit of the decisions of a period, run by a Celery task.

    Its figures are kept as an immutable snapshot (inputs, figures, code and model versions)
    whose sha256 is written to the audit trail. Once signed off by a compliance user nothing
    of it may change: a new audit is run instead. On PostgreSQL a trigger enforces both
    (migration 0010); `audits.fairness_services` refuses first, with a message.
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
