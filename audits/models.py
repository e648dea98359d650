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
