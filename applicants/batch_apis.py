"""REST endpoints for CSV batches: upload, progress, results."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser, DataAndFiles, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from applicants.services import batch_intake
from credscope_site.api import ApiView, ServiceUnavailable, field_errors, requires
from credscope_site.roles import Perm
from scoring import registry, selectors
from scoring.models import BatchJob
from scoring.queue import BatchQueueUnavailable


class BatchOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    results_url = serializers.SerializerMethodField()
    filename = serializers.CharField()
    status = serializers.CharField()
    total_rows = serializers.IntegerField()
    invalid_rows = serializers.IntegerField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.SerializerMethodField()

    def get_url(self, batch: BatchJob) -> str:
        return reverse("api:batch", args=[batch.pk])

    def get_results_url(self, batch: BatchJob) -> str:
        return reverse("api:batch-results", args=[batch.pk])

    def get_progress(self, batch: BatchJob) -> dict[str, Any]:
        return selectors.batch_progress(batch=batch)


class CsvBodyParser(BaseParser):
    """A raw CSV body (`Content-Type: text/csv`), offered to the view as the upload `file`.

    Reads at most one byte more than the limit, so an oversized body is refused without
    being held in memory."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> DataAndFiles:
        content = stream.read(settings.CREDSCOPE_BATCH_MAX_BYTES + 1) if stream else b""
        upload = SimpleUploadedFile("upload.csv", content, content_type="text/csv")
        return DataAndFiles({}, {"file": upload})


class BatchCreateApi(ApiView):
    """Upload a CSV of applications (Kaggle application column names in the header; an
    optional SK_ID_CURR links a row to known history) as multipart field `file` or as a raw
    `text/csv` body. 202: the valid rows are queued; bad rows are reported in the results."""

    parser_classes = [MultiPartParser, CsvBodyParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            },
            "text/csv": {"type": "string", "format": "binary"},
        },
        responses={202: BatchOutputSerializer, 400: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT},
    )
    @requires(Perm.SUBMIT_BATCH)
    def post(self, request: Request) -> Response:
        limit = settings.CREDSCOPE_BATCH_MAX_BYTES
        declared = _content_length(request)
        if declared > limit + 64 * 1024:  # room for multipart framing around the file itself
            raise field_errors({"file": f"is {declared:,} bytes; the limit is {limit:,} bytes"})
        upload = request.data.get("file")
        if upload is None or isinstance(upload, str):
            raise field_errors({"file": "send a CSV file as multipart field 'file' or text/csv"})
        if upload.size > limit:
            raise field_errors({"file": f"is {upload.size:,} bytes; the limit is {limit:,} bytes"})
        try:
            batch = batch_intake.batch_create(
                actor=request.user, filename=upload.name or "upload.csv", content=upload.read()
            )
        except batch_intake.BatchInvalid as error:
            raise field_errors(error.errors) from None
        except registry.NoActiveModel:
            raise ServiceUnavailable("No model version is active; nothing was saved.") from None
        except BatchQueueUnavailable as error:
            url = reverse("api:batch", args=[error.batch_id])
            return Response(
                {"detail": str(error), "id": error.batch_id, "url": url},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "30", "Location": url},
            )
        return Response(
            BatchOutputSerializer(batch).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api:batch", args=[batch.pk])},
        )


class BatchDetailApi(ApiView):
    """A batch and its progress: rows invalid, waiting, scoring, decided, failed."""

    @extend_schema(responses={200: BatchOutputSerializer, 404: OpenApiTypes.OBJECT})
    @requires(Perm.VIEW_BATCHES)
    def get(self, request: Request, batch_id: int) -> Response:
        return Response(BatchOutputSerializer(_visible_batch(request, batch_id)).data)


class _Echo:
    def write(self, value: str) -> str:
        return value


class BatchResultsApi(ApiView):
    """The results CSV: one line per input line, the decision or that line's errors."""

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.BINARY, description="text/csv")},
    )
    @requires(Perm.VIEW_BATCHES)
    def get(self, request: Request, batch_id: int) -> StreamingHttpResponse:
        batch = _visible_batch(request, batch_id)
        writer = csv.writer(_Echo())
        lines: Iterator[str] = (
            writer.writerow(row) for row in selectors.batch_results_rows(batch=batch)
        )
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-results.csv"'
        return response


def _visible_batch(request: Request, batch_id: int) -> BatchJob:
    try:
        return selectors.batch_get_for(user=request.user, batch_id=batch_id)
    except BatchJob.DoesNotExist:
        raise NotFound(f"No batch {batch_id}.") from None


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
