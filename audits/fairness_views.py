"""Compliance pages for fair-lending audits: list, new audit, the audit, sign-off, exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import ListView

from audits import fairness_presentation, fairness_services, reports, selectors
from audits.forms import FairnessAuditForm
from audits.models import FairnessAudit
from credscope_site.roles import Perm


class FairnessAuditListView(PermissionRequiredMixin, ListView):
    permission_required = Perm.VIEW_FAIRNESS_AUDITS
    template_name = "audits/fairness_list.html"
    context_object_name = "audits"
    paginate_by = 25

    def get_queryset(self):
        return selectors.fairness_audit_list_for(user=self.request.user)


@permission_required(Perm.RUN_FAIRNESS_AUDIT, raise_exception=True)
def fairness_audit_new(request: HttpRequest) -> HttpResponse:
    form = FairnessAuditForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            audit = fairness_services.fairness_audit_request(
                actor=request.user,
                date_from=data["date_from"],
                date_to=data["date_to"],
                attributes=data["attributes"],
                model_version=data["model_version"],
                policy_version=data["policy_version"],
                channel=data["channel"],
            )
        except fairness_services.FairnessAuditInvalid as error:
            for name, message in error.errors.items():
                form.add_error(name if name in form.fields else None, message)
        else:
            return redirect("fairness:detail", audit_id=audit.pk)
    return render(request, "audits/fairness_new.html", {"form": form})


def _audit_for(request: HttpRequest, audit_id: int) -> FairnessAudit:
    try:
        return selectors.fairness_audit_list_for(user=request.user).get(pk=audit_id)
    except FairnessAudit.DoesNotExist:
        raise Http404("No such audit.") from None


@require_GET
@permission_required(Perm.VIEW_FAIRNESS_AUDITS, raise_exception=True)
def fairness_audit_detail(request: HttpRequest, audit_id: int) -> HttpResponse:
    audit = _audit_for(request, audit_id)
    return render(
        request,
        "audits/fairness_detail.html",
        {
            "audit": audit,
            "view": fairness_presentation.audit_view(audit),
            "intact": fairness_services.snapshot_intact(audit),
            "in_progress": audit.status
            in (FairnessAudit.Status.QUEUED, FairnessAudit.Status.RUNNING),
            "can_sign": request.user.has_perm(Perm.SIGN_OFF_FAIRNESS_AUDIT)
            and audit.status == FairnessAudit.Status.DONE
            and not audit.is_signed,
        },
    )


@require_GET
@permission_required(Perm.VIEW_FAIRNESS_AUDITS, raise_exception=True)
def fairness_audit_status(request: HttpRequest, audit_id: int) -> JsonResponse:
    audit = _audit_for(request, audit_id)
    return JsonResponse(
        {"status": audit.status, "in_progress": audit.status in ("queued", "running")}
    )


@require_POST
@permission_required(Perm.SIGN_OFF_FAIRNESS_AUDIT, raise_exception=True)
def fairness_audit_sign_off_view(request: HttpRequest, audit_id: int) -> HttpResponse:
    audit = _audit_for(request, audit_id)
    try:
        fairness_services.fairness_audit_sign_off(
            audit=audit, actor=request.user, comment=request.POST.get("comment", "")
        )
    except fairness_services.FairnessAuditRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Audit signed off. It can no longer be changed.")
    return redirect("fairness:detail", audit_id=audit.pk)


@require_GET
@permission_required(Perm.VIEW_FAIRNESS_AUDITS, raise_exception=True)
def fairness_audit_pdf(request: HttpRequest, audit_id: int) -> HttpResponse:
    audit = _ready(request, audit_id)
    return _download(reports.report_pdf(audit), "application/pdf", f"fairness-audit-{audit.pk}.pdf")


@require_GET
@permission_required(Perm.VIEW_FAIRNESS_AUDITS, raise_exception=True)
def fairness_audit_csv(request: HttpRequest, audit_id: int) -> HttpResponse:
    audit = _ready(request, audit_id)
    return _download(
        fairness_presentation.figures_csv(audit),
        "text/csv; charset=utf-8",
        f"fairness-audit-{audit.pk}.csv",
    )


def _ready(request: HttpRequest, audit_id: int) -> FairnessAudit:
    audit = _audit_for(request, audit_id)
    if audit.snapshot is None:
        raise Http404("This audit has no figures yet.")
    return audit


def _download(content: bytes | str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
