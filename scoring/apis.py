"""REST endpoints of the scoring side: model versions and the decision policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from credscope_site.api import ApiView, StrictInputSerializer, requires
from credscope_site.roles import Perm
from scoring import challenger, oversight, policy, registry
from scoring.models import DecisionPolicy, ModelVersion

# --- model versions ------------------------------------------------------------------------------


class ModelVersionOutputSerializer(serializers.Serializer):
    version = serializers.CharField()
    status = serializers.CharField()
    profile = serializers.CharField()
    feature_count = serializers.IntegerField()
    auc = serializers.FloatField(allow_null=True)
    gini = serializers.FloatField(allow_null=True)
    ks = serializers.FloatField(allow_null=True)
    brier = serializers.FloatField(allow_null=True)
    oracle_auc = serializers.FloatField(allow_null=True)
    trained_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    data_fingerprint = serializers.CharField()


class ModelListApi(ApiView):
    """Every model version, newest first, with its headline metrics."""

    @extend_schema(responses={200: ModelVersionOutputSerializer(many=True)})
    @requires(Perm.VIEW_MODELS)
    def get(self, request: Request) -> Response:
        versions = ModelVersion.objects.order_by("-trained_at", "-id")
        return Response(ModelVersionOutputSerializer(versions, many=True).data)


class ModelActiveApi(ApiView):
    """The version that scores new applications now (404 when none is active)."""

    @extend_schema(responses={200: ModelVersionOutputSerializer, 404: OpenApiTypes.OBJECT})
    @requires(Perm.VIEW_MODELS)
    def get(self, request: Request) -> Response:
        model = registry.active_model_version()
        if model is None:
            raise NotFound("No model version is active.")
        return Response(ModelVersionOutputSerializer(model).data)


# --- the decision policy ------------------------------------------------------------------------


class PolicyThresholdsSerializer(serializers.Serializer):
    """The band and outcome thresholds on the probability of default, in and out."""

    very_low_below = serializers.FloatField()
    low_below = serializers.FloatField()
    medium_below = serializers.FloatField()
    high_below = serializers.FloatField()
    approve_below = serializers.FloatField()
    reject_at_or_above = serializers.FloatField()


class PolicyOutputSerializer(PolicyThresholdsSerializer):
    version = serializers.IntegerField()
    note = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()


class PolicyListApi(ApiView):
    """Policy versions, newest (in force) first."""

    @extend_schema(responses={200: PolicyOutputSerializer(many=True)})
    @requires(Perm.VIEW_POLICY)
    def get(self, request: Request) -> Response:
        policies = DecisionPolicy.objects.select_related("created_by").order_by("-version")
        return Response(PolicyOutputSerializer(policies, many=True).data)


class PolicyCreateApi(ApiView):
    """A new policy version (model admins): thresholds on the probability of default."""

    @extend_schema_serializer(component_name="PolicyCreate")
    class InputSerializer(StrictInputSerializer, PolicyThresholdsSerializer):
        note = serializers.CharField(required=False, allow_blank=True, max_length=300)

    @extend_schema(request=InputSerializer, responses={201: PolicyOutputSerializer})
    @requires(Perm.CHANGE_POLICY)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            created = policy.policy_create(actor=request.user, **serializer.validated_data)
        except policy.PolicyInvalid as error:
            raise ValidationError(error.errors) from None
        return Response(PolicyOutputSerializer(created).data, status=status.HTTP_201_CREATED)


class PolicyCollectionApi(PolicyCreateApi, PolicyListApi):
    """`/policies/`: GET lists (PolicyListApi), POST creates (PolicyCreateApi)."""


# --- promotion, challenger, what-if -------------------------------------------------------------


def _version_or_404(version: str) -> ModelVersion:
    model = ModelVersion.objects.filter(version=version).first()
    if model is None:
        raise NotFound(f"No model version {version!r}.")
    return model


class ModelActivateApi(ApiView):
    """Make a version the active one (also a rollback); a written reason is required."""

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=registry.MAX_REASON)

    @extend_schema(request=InputSerializer, responses={200: ModelVersionOutputSerializer})
    @requires(Perm.ACTIVATE_MODEL)
    def post(self, request: Request, version: str) -> Response:
        _version_or_404(version)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            model = registry.model_version_activate(
                version=version, actor=request.user, reason=serializer.validated_data["reason"]
            )
        except registry.ReasonRequired as error:
            raise ValidationError({"reason": str(error)}) from None
        except registry.RegistryError as error:
            raise ValidationError({"version": str(error)}) from None
        return Response(ModelVersionOutputSerializer(model).data)


class ChallengerComparisonOutputSerializer(serializers.Serializer):
    version = serializers.CharField()
    decisions = serializers.IntegerField(help_text="live decisions the challenger scored")
    agreement = serializers.FloatField(allow_null=True, help_text="share with the same outcome")
    outcomes = serializers.ListField(child=serializers.CharField())
    matrix = serializers.ListField(
        child=serializers.DictField(), help_text="champion outcome -> cells per challenger one"
    )
    pd_shift = serializers.DictField(help_text="histogram of challenger PD - champion PD")
    approval_rate = serializers.DictField()
    expected = serializers.DictField()
    fairness = serializers.DictField(
        help_text="the fair-lending audit of each model's outcomes (champion, challenger)"
    )
    realized = serializers.DictField(
        help_text="both models on the compared decisions whose loan outcome is recorded"
    )


class ModelChallengerApi(ApiView):
    """GET: the challenger against the champion (`?days=` limits the period). POST: make this
    version the challenger. DELETE: stop it challenging."""

    @extend_schema(responses={200: ChallengerComparisonOutputSerializer})
    @requires(Perm.ACTIVATE_MODEL)
    def get(self, request: Request, version: str) -> Response:
        model = _version_or_404(version)
        days = request.query_params.get("days")
        since = None
        if days is not None:
            if not days.isdigit() or int(days) < 1:
                raise ValidationError({"days": "a whole number of days, at least 1"})
            since = timezone.now() - timedelta(days=int(days))
        comparison = oversight.challenger_comparison(model_version=model, since=since)
        return Response(ChallengerComparisonOutputSerializer(comparison).data)

    @extend_schema(request=None, responses={200: ModelVersionOutputSerializer})
    @requires(Perm.ACTIVATE_MODEL)
    def post(self, request: Request, version: str) -> Response:
        _version_or_404(version)
        try:
            model = challenger.model_version_challenger_set(version=version, actor=request.user)
        except registry.RegistryError as error:
            raise ValidationError({"version": str(error)}) from None
        return Response(ModelVersionOutputSerializer(model).data)

    @extend_schema(request=None, responses={204: None})
    @requires(Perm.ACTIVATE_MODEL)
    def delete(self, request: Request, version: str) -> Response:
        _version_or_404(version)
        try:
            challenger.model_version_challenger_clear(version=version, actor=request.user)
        except registry.RegistryError as error:
            raise ValidationError({"version": str(error)}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class PolicyPreviewApi(ApiView):
    """What-if: the effect of thresholds on the last `last` decisions (default 10,000).
    Omitted thresholds are taken from the policy in force."""

    class InputSerializer(serializers.Serializer):
        very_low_below = serializers.FloatField(required=False)
        low_below = serializers.FloatField(required=False)
        medium_below = serializers.FloatField(required=False)
        high_below = serializers.FloatField(required=False)
        approve_below = serializers.FloatField(required=False)
        reject_from = serializers.FloatField(required=False, help_text="reject at or above")
        last = serializers.IntegerField(
            required=False, min_value=1, max_value=100_000, default=oversight.PREVIEW_DEFAULT
        )

    @extend_schema(parameters=[InputSerializer], responses={200: OpenApiTypes.OBJECT})
    @requires(Perm.CHANGE_POLICY)
    def get(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        current = policy.current_policy()
        values = {name: getattr(current, name) for name in policy.THRESHOLD_FIELDS}
        if "reject_from" in data:
            data["reject_at_or_above"] = data.pop("reject_from")
        values.update({k: v for k, v in data.items() if k in policy.THRESHOLD_FIELDS})
        errors = policy.threshold_errors(values)
        if errors:
            raise ValidationError(
                {("reject_from" if k == "reject_at_or_above" else k): v for k, v in errors.items()}
            )
        preview = oversight.policy_preview(thresholds=_Thresholds(**values), last=data["last"])
        return Response({"thresholds": values, **preview})


@dataclass(frozen=True)
class _Thresholds:
    very_low_below: float
    low_below: float
    medium_below: float
    high_below: float
    approve_below: float
    reject_at_or_above: float
