"""REST endpoints of the scoring side: model versions and the decision policy."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from credscope_site.api import ApiView, requires
from credscope_site.roles import Perm
from scoring import policy, registry
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
    class InputSerializer(PolicyThresholdsSerializer):
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
