from django.contrib import admin

from audits.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is changed only by appending through audits.trail.record."""

    list_display = ("sequence", "occurred_at", "actor_name", "action", "target_type", "target_id")
    list_filter = ("action",)
    search_fields = ("actor_name", "target_id", "request_id")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
