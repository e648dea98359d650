"""The REST API, version 1 (mounted at /api/v1/ under the namespace "api")."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from applicants.apis import (
    ApplicationCollectionApi,
    ApplicationDetailApi,
    ApplicationExplanationApi,
    ApplicationOutcomeApi,
    CounterofferAcceptApi,
)
from applicants.batch_apis import BatchCreateApi, BatchDetailApi, BatchResultsApi
from applicants.notice_apis import ApplicationNoticeApi, BatchNoticesApi
from applicants.review_apis import ApplicationOverrideApi, ReviewQueueApi
from audits.apis import (
    FairnessAuditCollectionApi,
    FairnessAuditDetailApi,
    FairnessAuditFiguresApi,
    FairnessAuditReportApi,
    FairnessAuditSignOffApi,
)
from credscope_site.api import ApiView
from credscope_site.apis import HealthApi, TokenCreateApi, TokenDestroyApi
from scoring.apis import (
    ModelActivateApi,
    ModelActiveApi,
    ModelChallengerApi,
    ModelListApi,
    PolicyCollectionApi,
    PolicyPreviewApi,
)


class SchemaApi(ApiView, SpectacularAPIView):
    """The OpenAPI 3 schema of this API (YAML, or JSON with ?format=json)."""


urlpatterns = [
    path("auth/token/", TokenCreateApi.as_view(), name="token"),
    path("auth/logout/", TokenDestroyApi.as_view(), name="logout"),
    path("health/", HealthApi.as_view(), name="health"),
    path("applications/", ApplicationCollectionApi.as_view(), name="applications"),
    path("applications/<int:application_id>/", ApplicationDetailApi.as_view(), name="application"),
    path(
        "applications/<int:application_id>/explanation/",
        ApplicationExplanationApi.as_view(),
        name="application-explanation",
    ),
    path(
        "applications/<int:application_id>/adverse-action-notice.pdf",
        ApplicationNoticeApi.as_view(),
        name="application-notice",
    ),
    path(
        "applications/<int:application_id>/counteroffer/accept/",
        CounterofferAcceptApi.as_view(),
        name="application-counteroffer-accept",
    ),
    path(
        "applications/<int:application_id>/override/",
        ApplicationOverrideApi.as_view(),
        name="application-override",
    ),
    path("review-queue/", ReviewQueueApi.as_view(), name="review-queue"),
    path("batches/", BatchCreateApi.as_view(), name="batches"),
    path(
        "batches/<int:batch_id>/adverse-action-notices.zip",
        BatchNoticesApi.as_view(),
        name="batch-notices",
    ),
    path("batches/<int:batch_id>/", BatchDetailApi.as_view(), name="batch"),
    path("batches/<int:batch_id>/results.csv", BatchResultsApi.as_view(), name="batch-results"),
    path("models/", ModelListApi.as_view(), name="models"),
    path("models/active/", ModelActiveApi.as_view(), name="model-active"),
    path("models/<str:version>/activate/", ModelActivateApi.as_view(), name="model-activate"),
    path("models/<str:version>/challenger/", ModelChallengerApi.as_view(), name="model-challenger"),
    path("policies/", PolicyCollectionApi.as_view(), name="policies"),
    path("policies/preview/", PolicyPreviewApi.as_view(), name="policy-preview"),
    path(
        "applications/<int:application_id>/outcome/",
        ApplicationOutcomeApi.as_view(),
        name="application-outcome",
    ),
    path("fairness-audits/", FairnessAuditCollectionApi.as_view(), name="fairness-audits"),
    path(
        "fairness-audits/<int:audit_id>/", FairnessAuditDetailApi.as_view(), name="fairness-audit"
    ),
    path(
        "fairness-audits/<int:audit_id>/sign-off/",
        FairnessAuditSignOffApi.as_view(),
        name="fairness-audit-sign-off",
    ),
    path(
        "fairness-audits/<int:audit_id>/report.pdf",
        FairnessAuditReportApi.as_view(),
        name="fairness-audit-pdf",
    ),
    path(
        "fairness-audits/<int:audit_id>/figures.csv",
        FairnessAuditFiguresApi.as_view(),
        name="fairness-audit-csv",
    ),
    path("schema/", SchemaApi.as_view(), name="schema"),
]
