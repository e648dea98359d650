"""REST endpoints for four-eyes review: the queue across officers, and an override.

`POST /applications/{id}/override/` answers 400 for a missing outcome or justification, 403
when the four-eyes rules refuse the reviewer (their own application, or a senior override
without the senior permission), 404 for an application the caller may not read, and 409 for
one that is not awaiting review. Refusals are recorded on the audit trail by the service.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from applicants import selectors
from applicants.models import LoanApplication
from applicants.services import review
from credscope_site.api import ApiView, Pagination, field_errors, refusal, requires
from credscope_site.roles import Perm
from scoring.models import DecisionOverride, Outcome


class ReviewQueueApi(ApiView):
    """REFER decisions awaiting review, across officers, oldest first; never the caller's own
    applications (four eyes)."""

    @extend_schema_serializer(component_name="ReviewQueueItem")
    class OutputSerializer(serializers.Serializer):
        application_id = serializers.IntegerField(source="application.pk")
        submitted_by = serializers.CharField(source="application.created_by.username")
        full_name = serializers.CharField(source="application.applicant.full_name")
        amt_credit = serializers.DecimalField(
            14, 2, source="application.amt_credit", coerce_to_string=False
        )
        probability_of_default = serializers.FloatField()
        risk_band = serializers.CharField()
        outcome = serializers.CharField()
        reasons = serializers.ListField(child=serializers.DictField())
        decided_at = serializers.DateTimeField()

    @extend_schema(responses={200: OutputSerializer(many=True)})
    @requires(Perm.OVERRIDE_DECISION)
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.review_queue_for(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class ApplicationOverrideApi(ApiView):
    """A reviewer's APPROVE or REJECT of an application awaiting review, with a written
    justification; the model's decision stays on record beside it."""

    @extend_schema_serializer(component_name="OverrideInput")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=[Outcome.APPROVE, Outcome.REJECT])
        justification = serializers.CharField(max_length=4000, trim_whitespace=True)

    @extend_schema_serializer(component_name="Override")
    class OutputSerializer(serializers.Serializer):
        application_id = serializers.IntegerField(source="decision.application_id")
        model_outcome = serializers.CharField(source="decision.outcome")
        outcome = serializers.CharField()
        justification = serializers.CharField()
        submitted_by = serializers.CharField(source="decision.application.created_by.username")
        reviewer = serializers.CharField(source="reviewer.username")
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
        },
    )
    @requires(Perm.VIEW_OWN_APPLICATIONS)
    def post(self, request: Request, application_id: int) -> Response:
        # Reading comes first: an application the caller may not read is 404, as elsewhere.
        try:
            selectors.application_get_for(user=request.user, application_id=application_id)
        except LoanApplication.DoesNotExist:
            raise NotFound(f"No application {application_id}.") from None
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            override = review.override_for_application(
                application_id=application_id,
                outcome=data.validated_data["outcome"],
                justification=data.validated_data["justification"],
                reviewer=request.user,
            )
        except review.OverrideInvalid as error:
            raise field_errors({error.field: str(error)}) from None
        except review.OverrideRefused as error:
            raise refusal(str(error), status_code=error.status, code=error.code) from None
        override = DecisionOverride.objects.select_related(
            "decision__application__created_by", "reviewer"
        ).get(pk=override.pk)
        return Response(self.OutputSerializer(override).data, status=status.HTTP_201_CREATED)
