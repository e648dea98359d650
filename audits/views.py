"""Compliance pages for the audit trail."""

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.views.generic import ListView

from audits import selectors
from audits.actions import AuditAction
from audits.models import AuditEvent
from credscope_site.roles import Perm


class AuditTrailView(PermissionRequiredMixin, ListView):
    permission_required = Perm.VIEW_AUDIT_TRAIL
    template_name = "audits/trail.html"
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self):
        return selectors.audit_event_list(
            user=self.request.user,
            action=self.request.GET.get("action", ""),
            actor=self.request.GET.get("actor", "").strip(),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["actions"] = AuditAction.choices
        context["selected_action"] = self.request.GET.get("action", "")
        context["actor_filter"] = self.request.GET.get("actor", "")
        context["total_events"] = AuditEvent.objects.count()
        return context
