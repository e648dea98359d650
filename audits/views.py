"""Compliance pages for the audit trail: the filtered trail, its CSV export, "Verify chain"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import ListView

from audits import selectors, services, trail_export
from audits.filters import AuditEventFilter
from audits.models import AuditEvent
from audits.presentation import event_views
from credscope_site.roles import Perm


class AuditTrailView(PermissionRequiredMixin, ListView):
    permission_required = Perm.VIEW_AUDIT_TRAIL
    template_name = "audits/trail.html"
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self):
        self.filterset = AuditEventFilter(
            self.request.GET, queryset=selectors.audit_event_list(user=self.request.user)
        )
        if self.filterset.is_bound and not self.filterset.is_valid():
            return AuditEvent.objects.none()
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filters=self.filterset.form,
            filtered=self.filterset.active,
            rows=event_views(list(context["events"])),
            total_events=AuditEvent.objects.count(),
            export_query=query.urlencode(),
            time_zone=timezone.get_current_timezone_name(),
            latest_run=selectors.latest_verification_run(user=self.request.user),
        )
        return context


@require_GET
@permission_required(Perm.VIEW_AUDIT_TRAIL, raise_exception=True)
def trail_csv(request: HttpRequest) -> HttpResponse:
    filterset = AuditEventFilter(
        request.GET, queryset=selectors.audit_event_list(user=request.user)
    )
    if not filterset.is_valid():
        errors = "; ".join(
            f"{field}: {' '.join(problems)}" for field, problems in filterset.errors.items()
        )
        return HttpResponse(
            f"Bad filter: {errors}\n", status=400, content_type="text/plain; charset=utf-8"
        )
    services.trail_export_record(
        user=request.user, filters={k: v for k, v in request.GET.items() if v}
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        trail_export.csv_lines(filterset.qs), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


@require_POST
@permission_required(Perm.VIEW_AUDIT_TRAIL, raise_exception=True)
def verify_chain(request: HttpRequest) -> HttpResponse:
    services.verification_run_request(user=request.user)
    messages.info(
        request,
        "Chain verification started. The result appears on the dashboard and here when a "
        "worker has checked every event.",
    )
    return HttpResponseRedirect(reverse("audits:trail"))
