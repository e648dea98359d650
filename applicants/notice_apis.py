"""The API's adverse-action notices (thin doors over `services.notices`)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from applicants import selectors
from applicants.models import LoanApplication
from applicants.services import notices
from credscope_site.api import ApiView, Conflict, requires
from credscope_site.roles import Perm
from scoring import selectors as scoring_selectors
from scoring.models import BatchJob


class ApplicationNoticeApi(ApiView):
    """The adverse-action notice of a declined application, as PDF (409 when the decision
    in force is not a rejection). Each call records an audit event."""

    @extend_schema(
        responses={
            200: OpenApiResponse(OpenApiTypes.BINARY, description="application/pdf"),
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
        }
    )
    @requires(Perm.VIEW_OWN_APPLICATIONS)
    def get(self, request: Request, application_id: int) -> HttpResponse:
        try:
            application = selectors.application_get_for(
                user=request.user, application_id=application_id
            )
        except LoanApplication.DoesNotExist:
            raise NotFound(f"No application {application_id}.") from None
        try:
            notice = notices.notice_produce(application=application, actor=request.user)
        except notices.NoticeUnavailable as error:
            raise Conflict(f"{str(error)[:1].upper()}{str(error)[1:]}.") from None
        response = HttpResponse(notice.content, content_type=notice.content_type)
        response["Content-Disposition"] = f'attachment; filename="{notice.filename}"'
        return response


class BatchNoticesApi(ApiView):
    """A zip of the adverse-action notices (PDF) of every declined application of a batch."""

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="application/zip")}
    )
    @requires(Perm.VIEW_BATCHES)
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        try:
            batch = scoring_selectors.batch_get_for(user=request.user, batch_id=batch_id)
        except BatchJob.DoesNotExist:
            raise NotFound(f"No batch {batch_id}.") from None
        content, _ = notices.batch_notices_produce(batch=batch, actor=request.user)
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = (
            f'attachment; filename="batch-{batch.pk}-adverse-action-notices.zip"'
        )
        return response
