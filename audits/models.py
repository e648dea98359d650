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
