"""REST endpoints for loan applications: submit, list, read, explain.

Each class is one operation: it parses the request, calls one service or selector and renders
the result. Visibility is the selectors' (officers their own, compliance all); another
officer's application answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from applicants import presentation, selectors
from applicants.filters import ApplicationFilter
from applicants.models import LoanApplication, LoanOutcome
from applicants.services.counteroffers import (
    CounterofferRefused,
    counteroffer_accept,
    counteroffer_settle,
)
from applicants.services.outcomes import OutcomeConflict, OutcomeRefused, loan_outcome_record
from applicants.services.submit import (
    ApplicationInvalid,
    IdempotencyConflict,
    application_submit,
    application_submit_and_score,
)
from credscope_site.api import (
    ApiView,
    Conflict,
    Pagination,
    ServiceUnavailable,
    field_errors,
    refusal,
    requires,
)
from credscope_site.roles import Perm
from scoring import registry
from scoring.ml.schema.records import application_fields
from scoring.ml.schema.tables import HISTORY_TABLES, Kind
from scoring.queue import ApplicationQueueUnavailable

IDEMPOTENCY_HEADER = "Idempotency-Key"
EXTRA_FIELDS = ("full_name", "external_id", "history")


# --- shared output ------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Counteroffer")
class CounterofferSerializer(serializers.Serializer):
    """Terms the policy would approve, for a REFER or REJECT: the requested amount over a
    longer term (`kind` longer_term) or, failing that, the largest amount at the requested
    term (smaller_amount). `term_months` is AMT_CREDIT / AMT_ANNUITY, the monthly payments
    the model reads as the term (no interest is modelled)."""

    AMT_CREDIT = serializers.FloatField()
    AMT_ANNUITY = serializers.FloatField()
    AMT_GOODS_PRICE = serializers.FloatField(
        allow_null=True, help_text="capped at the credit when a smaller amount is offered"
    )
    term_months = serializers.FloatField()
    probability_of_default = serializers.FloatField()
    outcome = serializers.ChoiceField(choices=["APPROVE"])
    kind = serializers.ChoiceField(choices=["longer_term", "smaller_amount"])


class DecisionOutputSerializer(serializers.Serializer):
    probability_of_default = serializers.FloatField()
    risk_band = serializers.CharField()
    outcome = serializers.CharField()
    reasons = serializers.ListField(child=serializers.DictField())
    model_version = serializers.CharField(source="model_version.version")
    policy_version = serializers.IntegerField(source="policy.version")
    scoring_latency_ms = serializers.FloatField()
    decided_at = serializers.DateTimeField()
    counteroffer = serializers.SerializerMethodField()
    counteroffer_reason = serializers.SerializerMethodField()

    @extend_schema_field(CounterofferSerializer(allow_null=True))
    def get_counteroffer(self, decision: Any) -> dict[str, Any] | None:
        return presentation.counteroffer_shown(decision)["offer"]

    @extend_schema_field(serializers.CharField())
    def get_counteroffer_reason(self, decision: Any) -> str:
        return presentation.counteroffer_shown(decision)["reason"]


class ApplicationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    status = serializers.CharField()
    channel = serializers.CharField()
    full_name = serializers.CharField(source="applicant.full_name")
    external_id = serializers.IntegerField(source="applicant.external_id", allow_null=True)
    contract_type = serializers.CharField()
    amt_income_total = serializers.DecimalField(14, 2, coerce_to_string=False)
    amt_credit = serializers.DecimalField(14, 2, coerce_to_string=False)
    amt_annuity = serializers.DecimalField(14, 2, coerce_to_string=False, allow_null=True)
    amt_goods_price = serializers.DecimalField(14, 2, coerce_to_string=False, allow_null=True)
    submitted_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    attempts = serializers.IntegerField()
    failure_reason = serializers.CharField()
    batch_id = serializers.IntegerField(allow_null=True)
    counteroffer_of = serializers.IntegerField(
        source="counteroffer_of_id",
        allow_null=True,
        help_text="the application whose counteroffer this one accepted",
    )
    accepted_counteroffer = serializers.SerializerMethodField(
        help_text="the application that accepted this one's counteroffer"
    )
    # A reverse one-to-one that does not exist yet reads as null (no decision so far).
    decision = DecisionOutputSerializer(allow_null=True, read_only=True)

    def get_url(self, application: LoanApplication) -> str:
        return reverse("api:application", args=[application.pk])

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_accepted_counteroffer(self, application: LoanApplication) -> int | None:
        accepted = selectors.accepted_counteroffer_of(application)
        return accepted.pk if accepted is not None else None


def _application_columns() -> dict[str, serializers.Field]:
    """The Kaggle application columns as serializer fields, for the OpenAPI schema.

    They are made from `records.application_fields()`, the same definitions (kinds,
    vocabularies, required columns, ranges) that `clean_application` validates with, so the
    documentation and the validation cannot drift apart."""
    fields: dict[str, serializers.Field] = {}
    for definition in application_fields():
        bounds = definition.bounds
        options: dict[str, Any] = {"required": definition.required}
        if bounds is not None:
            options.update(min_value=bounds.minimum, max_value=bounds.maximum)
            options["help_text"] = bounds.message
        if definition.kind is Kind.CATEGORY:
            fields[definition.name] = serializers.ChoiceField(
                choices=definition.vocabulary, required=definition.required
            )
        elif definition.kind is Kind.INT:
            fields[definition.name] = serializers.IntegerField(**options)
        else:
            fields[definition.name] = serializers.FloatField(**options)
    return fields


ApplicationRequestSchema = type(
    "Application",  # the request component is "ApplicationRequest" (COMPONENT_SPLIT_REQUEST)
    (serializers.Serializer,),
    {
        **_application_columns(),
        "full_name": serializers.CharField(required=False, max_length=200),
        "external_id": serializers.IntegerField(
            required=False, min_value=0, help_text="a known SK_ID_CURR whose history to use"
        ),
        "history": serializers.DictField(
            required=False,
            child=serializers.ListField(child=serializers.DictField()),
            help_text=f"rows in the Kaggle schemas of: {', '.join(HISTORY_TABLES)}",
        ),
    },
)


# --- operations ---------------------------------------------------------------------------------


class ApplicationCreateApi(ApiView):
    """Submit an application: Kaggle application columns at the top level, plus optional
    `full_name`, `external_id` and inline `history`.

    Required inputs: `AMT_INCOME_TOTAL`, `AMT_CREDIT` and `DAYS_BIRTH` always (marked in the
    schema), and whatever else the active model version's input contract requires: inputs
    never missing in its training data that matter to it (for the demo model also
    `DAYS_EMPLOYED`, `CNT_FAM_MEMBERS` and `REGION_POPULATION_RELATIVE`, a region's share of
    the population). A body without one answers 400 with an error for each missing field, and
    nothing is saved; a known applicant's `external_id` brings history, never these.

    202 with the application (queued for scoring); with `?wait=true`, scored within the
    request: 201 with the decision. An `Idempotency-Key` header makes a retry safe: the same
    key and body return the first application, another body answers 409.
    """

    class InputSerializer(serializers.Serializer):
        """Splits the body into the application row and the extras; the service validates."""

        def to_internal_value(self, data: Any) -> dict[str, Any]:
            if not isinstance(data, Mapping):
                raise serializers.ValidationError(
                    {"body": "must be a JSON object of Kaggle application columns"}
                )
            return {
                "application_row": {k: v for k, v in data.items() if k not in EXTRA_FIELDS},
                "full_name": data.get("full_name") or "",
                "external_id": data.get("external_id"),
                "history": data.get("history"),
            }

    @extend_schema_serializer(component_name="ApplicationCreateQuery")
    class QuerySerializer(serializers.Serializer):
        wait = serializers.BooleanField(required=False, default=False)

    OutputSerializer = ApplicationOutputSerializer

    @extend_schema(
        request=ApplicationRequestSchema,
        parameters=[
            OpenApiParameter("wait", bool, description="score within the request (201)"),
            OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER),
        ],
        responses={
            201: ApplicationOutputSerializer,
            202: ApplicationOutputSerializer,
            200: ApplicationOutputSerializer,
            400: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            503: OpenApiTypes.OBJECT,
        },
    )
    @requires(Perm.SUBMIT_APPLICATION)
    def post(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submit = (
            application_submit_and_score if query.validated_data["wait"] else application_submit
        )
        key = request.headers.get(IDEMPOTENCY_HEADER)
        try:
            application, created = submit(
                actor=request.user,
                channel=LoanApplication.Channel.API,
                idempotency_key=key,
                **body.validated_data,
            )
        except ApplicationInvalid as error:
            raise field_errors(error.errors) from None
        except IdempotencyConflict as error:
            raise Conflict(
                f"{IDEMPOTENCY_HEADER} {key!r} was already used for application "
                f"{error.application.pk} with a different body."
            ) from None
        except ApplicationQueueUnavailable as error:
            return _queue_unavailable(error)
        except registry.NoActiveModel:
            raise ServiceUnavailable("No model version is active; nothing was saved.") from None
        if not (created and application.status == LoanApplication.Status.DECIDED):
            # Scoring may have moved it on since (in process, or a fast worker); a new
            # decided one is already complete in memory, and reading it again costs a query.
            application = selectors.application_get_for(
                user=request.user, application_id=application.pk
            )
        code = status.HTTP_202_ACCEPTED
        if application.status == LoanApplication.Status.DECIDED and query.validated_data["wait"]:
            code = status.HTTP_201_CREATED
        headers = {"Location": reverse("api:application", args=[application.pk])}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return Response(self.OutputSerializer(application).data, status=code, headers=headers)


class ApplicationListApi(ApiView):
    """The applications the caller may read, newest first (officers: their own; compliance:
    all), filtered by status, outcome, submission dates (inclusive) or a search term."""

    # The page's filters (django-filter), documented in the schema by drf-spectacular.
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApplicationFilter
    queryset = LoanApplication.objects.none()  # the model, for the schema; reads are scoped

    OutputSerializer = ApplicationOutputSerializer

    # Declared so drf-spectacular documents the page envelope (count, next, previous,
    # results) and the page parameters, not a bare array.
    pagination_class = Pagination

    @extend_schema(
        operation_id="applications_list",
        responses={200: ApplicationOutputSerializer(many=True)},
    )
    @requires(Perm.VIEW_OWN_APPLICATIONS)
    def get(self, request: Request) -> Response:
        # An invalid filter is a 400 naming it (DjangoFilterBackend raises ValidationError).
        applications = DjangoFilterBackend().filter_queryset(
            request, selectors.application_list_for(user=request.user), self
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(applications, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class ApplicationCollectionApi(ApplicationCreateApi, ApplicationListApi):
    """`/applications/`: POST submits (ApplicationCreateApi), GET lists (ApplicationListApi)."""


class ApplicationDetailApi(ApiView):
    """One application with its decision: probability of default, risk band, outcome,
    reasons, and the model and policy versions that made it."""

    OutputSerializer = ApplicationOutputSerializer

    @extend_schema(responses={200: ApplicationOutputSerializer, 404: OpenApiTypes.OBJECT})
    @requires(Perm.VIEW_OWN_APPLICATIONS)
    def get(self, request: Request, application_id: int) -> Response:
        application = _visible_application(request, application_id)
        # A batch row's counteroffer is searched the first time it is read on its own.
        counteroffer_settle(application=application)
        return Response(self.OutputSerializer(application).data)


class CounterofferAcceptApi(ApiView):
    """Accept the application's counteroffer (the officer who submitted it): a new
    application with the offered terms, linked to this one (`counteroffer_of`) and decided
    within the request. 201 with it; 200 with the same one when accepted before; 409 when no
    offer stands (none, a reviewer decided, or the model or policy changed since)."""

    OutputSerializer = ApplicationOutputSerializer

    @extend_schema(
        request=None,
        responses={
            201: ApplicationOutputSerializer,
            200: ApplicationOutputSerializer,
            400: OpenApiTypes.OBJECT,
            403: OpenApiTypes.OBJECT,
            404: OpenApiTypes.OBJECT,
            409: OpenApiTypes.OBJECT,
            503: OpenApiTypes.OBJECT,
        },
    )
    @requires(Perm.SUBMIT_APPLICATION)
    def post(self, request: Request, application_id: int) -> Response:
        application = _visible_application(request, application_id)
        try:
            accepted, created = counteroffer_accept(
                application=application, actor=request.user, channel=LoanApplication.Channel.API
            )
        except CounterofferRefused as error:
            raise refusal(str(error), status_code=error.status) from None
        except ApplicationInvalid as error:
            raise field_errors(error.errors) from None
        except ApplicationQueueUnavailable as error:
            return _queue_unavailable(error)
        except registry.NoActiveModel:
            raise ServiceUnavailable("No model version is active; nothing was saved.") from None
        if not (created and accepted.status == LoanApplication.Status.DECIDED):
            accepted = selectors.application_get_for(user=request.user, application_id=accepted.pk)
        headers = {"Location": reverse("api:application", args=[accepted.pk])}
        return Response(
            self.OutputSerializer(accepted).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers=headers,
        )


class ApplicationExplanationApi(ApiView):
    """The decision's explanation in the officer's language: each family's effect on the
    probability of default in percentage points (`families[].points`), which add up to
    `probability_of_default - base_probability_of_default`.

    `?detail=features` adds the raw per-feature SHAP values in log-odds (`contributions`,
    each with its `family` key): `base_value` plus their sum equals `logit`, and
    PD = 1 / (1 + exp(-logit)). Features built from the date of birth have family `age`;
    for an applicant aged 62 or over `age_neutralised` is what the age rule took off.
    """

    @extend_schema_serializer(component_name="Explanation")
    class OutputSerializer(serializers.Serializer):
        application_id = serializers.IntegerField(source="application.pk")
        model_version = serializers.CharField(source="model_version.version")
        policy_version = serializers.IntegerField(source="policy.version")
        probability_of_default = serializers.FloatField()
        base_probability_of_default = serializers.SerializerMethodField()
        logit = serializers.FloatField()
        base_value = serializers.FloatField()
        age_neutralised = serializers.FloatField()
        families = serializers.SerializerMethodField()
        contributions = serializers.SerializerMethodField()

        def get_base_probability_of_default(self, decision: Any) -> float:
            return 1 / (1 + math.exp(-decision.base_value))

        @extend_schema_field(serializers.ListField(child=serializers.DictField()))
        def get_families(self, decision: Any) -> list[dict[str, Any]]:
            return presentation.explanation_families(
                decision.family_totals, base_value=decision.base_value, logit=decision.logit
            )

        @extend_schema_field(serializers.ListField(child=serializers.DictField(), allow_null=True))
        def get_contributions(self, decision: Any) -> list[dict[str, Any]] | None:
            if not self.context.get("features"):
                return None
            try:
                items = registry.decision_contributions(decision)
            except registry.RegistryError as error:
                raise Conflict(f"The features cannot be recomputed: {error}") from error
            return [
                {
                    "feature": item["feature"],
                    "family": item.get("family"),
                    "value": item.get("value"),
                    "contribution": item["contribution"],
                    "status": item.get("status", "given"),
                }
                for item in items
            ]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "detail",
                str,
                enum=["features"],
                description="`features` adds the raw per-feature SHAP values (log-odds)",
            )
        ],
        responses={200: OutputSerializer, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
    )
    @requires(Perm.VIEW_OWN_APPLICATIONS)
    def get(self, request: Request, application_id: int) -> Response:
        application = _visible_application(request, application_id)
        decision = getattr(application, "decision", None)
        if decision is None:
            raise Conflict(
                f"Application {application.pk} has no decision yet ({application.status})."
            )
        detail = request.query_params.get("detail", "")
        if detail not in ("", "features"):
            raise ValidationError({"detail": "must be 'features' or left out"})
        context = {"features": detail == "features"}
        return Response(self.OutputSerializer(decision, context=context).data)


class ApplicationOutcomeApi(ApiView):
    """Record what became of a decided application: `repaid` or `defaulted`, observed on a
    date (compliance and model admins). 201 when recorded, 200 when the same outcome was
    already on record, 409 when a different one is (a recorded outcome is not overwritten)."""

    @extend_schema_serializer(component_name="LoanOutcomeRequest")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=LoanOutcome.Result.choices)
        observed_at = serializers.DateField()

    @extend_schema_serializer(component_name="LoanOutcome")
    class OutputSerializer(serializers.Serializer):
        application_id = serializers.IntegerField()
        outcome = serializers.CharField()
        observed_at = serializers.DateField()
        recorded_by = serializers.CharField(source="recorded_by.username")
        recorded_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, 409: OpenApiTypes.OBJECT},
    )
    @requires(Perm.RECORD_OUTCOME)
    def post(self, request: Request, application_id: int) -> Response:
        try:
            application = selectors.application_for_outcome(
                user=request.user, application_id=application_id
            )
        except LoanApplication.DoesNotExist:
            raise NotFound(f"No application {application_id}.") from None
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            recorded, created = loan_outcome_record(
                application=application, actor=request.user, **serializer.validated_data
            )
        except OutcomeConflict as error:
            raise Conflict(error.errors["outcome"]) from None
        except OutcomeRefused as error:
            raise field_errors(error.errors) from None
        return Response(
            self.OutputSerializer(recorded).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _visible_application(request: Request, application_id: int) -> LoanApplication:
    try:
        return selectors.application_get_for(user=request.user, application_id=application_id)
    except LoanApplication.DoesNotExist:
        raise NotFound(f"No application {application_id}.") from None


def _queue_unavailable(error: ApplicationQueueUnavailable) -> Response:
    """503: the application is saved (SUBMITTED) and will be scored once the queue is back;
    retrying with the same Idempotency-Key returns it."""
    url = reverse("api:application", args=[error.application_id])
    return Response(
        {
            "detail": str(error),
            "id": error.application_id,
            "status": LoanApplication.Status.SUBMITTED,
            "url": url,
        },
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "30", "Location": url},
    )
