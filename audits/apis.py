"""REST endpoints for fair-lending audits (compliance only; other roles get 403).

`POST /fairness-audits/` queues an audit of a period (202 with its id); `GET .../{id}/`
answers its status and, once done, every figure; `.../report.pdf` and `.../figures.csv` are
the exports. An audit another user may not read answers 404.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from applicants.models import LoanApplication
from audits import fairness_presentation, fairness_services, reports, selectors
from audits.models import FairnessAudit
from credscope_site.api import ApiView, Conflict, Pagination, field_errors, requires
from credscope_site.roles import Perm


def _audit(request: Request, audit_id: int) -> FairnessAudit:
    try:
        return selectors.fairness_audit_list_for(user=request.user).get(pk=audit_id)
    except FairnessAudit.DoesNotExist:
        raise NotFound(f"No fairness audit {audit_id}.") from None


def audit_document(audit: FairnessAudit) -> dict[str, Any]:
    """The audit as the API shows it: inputs, status, and once done every figure."""
    snapshot = audit.snapshot or {}
    figures = snapshot.get("figures", {})
    return {
        "id": audit.pk,
        "status": audit.status,
        "url": reverse("api:fairness-audit", args=[audit.pk]),
        "inputs": fairness_services.audit_inputs(audit),
        "requested_at": audit.requested_at,
        "requested_by": audit.requested_by.get_username() if audit.requested_by else None,
        "finished_at": audit.finished_at,
        "failure_reason": audit.failure_reason or None,
        "verdict": audit.verdict or None,
        "summary": figures.get("summary"),
        "totals": figures.get("totals"),
        "attributes": figures.get("attributes"),
        "settings": snapshot.get("settings"),
        "code_version": snapshot.get("code_version"),
        "model_versions": snapshot.get("model_versions"),
        "policy_versions": snapshot.get("policy_versions"),
        "snapshot_sha256": audit.snapshot_sha256 or None,
        "signed_off": (
            {
                "by": audit.signed_off_by.get_username(),
                "at": audit.signed_off_at,
                "comment": audit.sign_off_comment,
            }
            if audit.is_signed
            else None
        ),
        "report_pdf": reverse("api:fairness-audit-pdf", args=[audit.pk])
        if audit.snapshot
        else None,
        "figures_csv": reverse("api:fairness-audit-csv", args=[audit.pk])
        if audit.snapshot
        else None,
    }


class FairnessAuditCollectionApi(ApiView):
    """Queue an audit of the decisions of a period (202), or list audits, newest first."""

    @extend_schema_serializer(component_name="FairnessAuditRequest")
    class InputSerializer(serializers.Serializer):
        date_from = serializers.DateField()
        date_to = serializers.DateField()
        attributes = serializers.ListField(child=serializers.CharField(), required=False)
        model_version = serializers.CharField(required=False, allow_blank=True, default="")
        policy_version = serializers.IntegerField(required=False, allow_null=True, default=None)
        channel = serializers.ChoiceField(
            choices=LoanApplication.Channel.choices, required=False, allow_blank=True, default=""
        )

    @extend_schema(request=InputSerializer, responses={202: OpenApiTypes.OBJECT})
    @requires(Perm.RUN_FAIRNESS_AUDIT)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            audit = fairness_services.fairness_audit_request(
                actor=request.user, **serializer.validated_data
            )
        except fairness_services.FairnessAuditInvalid as error:
            raise field_errors(error.errors) from None
        audit.refresh_from_db()  # in-process runs have finished already
        return Response(
            {
                "id": audit.pk,
                "status": audit.status,
                "url": reverse("api:fairness-audit", args=[audit.pk]),
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(operation_id="fairness_audits_list", responses={200: OpenApiTypes.OBJECT})
    @requires(Perm.VIEW_FAIRNESS_AUDITS)
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.fairness_audit_list_for(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(
            [
                {
                    "id": a.pk,
                    "status": a.status,
                    "inputs": fairness_services.audit_inputs(a),
                    "verdict": a.verdict or None,
                    "signed_off": a.is_signed,
                    "url": reverse("api:fairness-audit", args=[a.pk]),
                }
                for a in page
            ]
        )


class FairnessAuditDetailApi(ApiView):
    """One audit: `status`, and once done `attributes.<name>.groups.<group>` (n,
    approval_rate, adverse_impact_ratio, p_value, verdict), `attributes.<name>.verdict`,
    `.overrides`, `.outcomes`, and the `summary`."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    @requires(Perm.VIEW_FAIRNESS_AUDITS)
    def get(self, request: Request, audit_id: int) -> Response:
        return Response(audit_document(_audit(request, audit_id)))


class FairnessAuditSignOffApi(ApiView):
    """Sign off a completed audit with a comment; a signed audit answers 409."""

    @extend_schema_serializer(component_name="FairnessAuditSignOff")
    class InputSerializer(serializers.Serializer):
        comment = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OpenApiTypes.OBJECT})
    @requires(Perm.SIGN_OFF_FAIRNESS_AUDIT)
    def post(self, request: Request, audit_id: int) -> Response:
        audit = _audit(request, audit_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if audit.is_signed:
            raise Conflict("This audit is already signed off and cannot be changed.")
        try:
            audit = fairness_services.fairness_audit_sign_off(
                audit=audit, actor=request.user, comment=serializer.validated_data["comment"]
            )
        except fairness_services.FairnessAuditRefused as error:
            raise field_errors({"comment": str(error)}) from None
        return Response(audit_document(audit))


class _ExportApi(ApiView):
    def _ready(self, request: Request, audit_id: int) -> FairnessAudit:
        audit = _audit(request, audit_id)
        if audit.snapshot is None:
            raise Conflict(f"Audit {audit_id} is {audit.status}; it has no figures yet.")
        return audit


class FairnessAuditReportApi(_ExportApi):
    """The PDF report: summary, charts, every table and the sign-off."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @requires(Perm.VIEW_FAIRNESS_AUDITS)
    def get(self, request: Request, audit_id: int) -> HttpResponse:
        audit = self._ready(request, audit_id)
        response = HttpResponse(reports.report_pdf(audit), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="fairness-audit-{audit.pk}.pdf"'
        return response


class FairnessAuditFiguresApi(_ExportApi):
    """Every figure as CSV: audit_id, section, attribute, basis, group, metric, value."""

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @requires(Perm.VIEW_FAIRNESS_AUDITS)
    def get(self, request: Request, audit_id: int) -> HttpResponse:
        audit = self._ready(request, audit_id)
        response = HttpResponse(
            fairness_presentation.figures_csv(audit), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="fairness-audit-{audit.pk}.csv"'
        return response
