"""Compliance pages for the audit trail."""

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.views.generic import ListView

from audits import selectors
from audits.actions import AuditAction
from audits.models import AuditEvent
from credscope_site.roles import Perm
from credscope_site.validators import text_problem


class AuditTrailView(PermissionRequiredMixin, ListView):
    permission_required = Perm.VIEW_AUDIT_TRAIL
    template_name = "audits/trail.html"
    context_object_name = "events"
    paginate_by = 50

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A filter PostgreSQL cannot compare (a NUL) is the visitor's mistake: say which
        # field, with status 400, instead of letting the query fail as a 500.
        self.filter_errors = {
            name: problem
            for name in ("action", "actor")
            if (problem := text_problem(request.GET.get(name, "")))
        }
        response = super().get(request, *args, **kwargs)
        if self.filter_errors:
            response.status_code = 400
        return response

    def get_queryset(self):
        if self.filter_errors:
            return AuditEvent.objects.none()
        return selectors.audit_event_list(
            user=self.request.user,
            action=self.request.GET.get("action", ""),
            actor=self.request.GET.get("actor", "").strip(),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["actions"] = AuditAction.choices
        context["filter_errors"] = self.filter_errors
        if not self.filter_errors:
            context["selected_action"] = self.request.GET.get("action", "")
            context["actor_filter"] = self.request.GET.get("actor", "")
        context["total_events"] = AuditEvent.objects.count()
        return context
