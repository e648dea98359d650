"""The batch pages: upload a CSV, follow its progress, read the summary, download results.

Doors only: the upload goes to `applicants.services.batch_intake.batch_create` (as the REST
API's does); reads go through `scoring.selectors`, which shows an officer only their own
batches (404 otherwise).
"""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from applicants.forms import BatchUploadForm
from applicants.services import batch_intake
from credscope_site.roles import Perm
from scoring import batch_charts, selectors
from scoring.models import BatchJob
from scoring.queue import BatchQueueUnavailable
from scoring.registry import NoActiveModel

PAGE_SIZE = 20
ERRORS_SHOWN = 50
APPLICATIONS_SHOWN = 200


@require_GET
@permission_required(Perm.VIEW_BATCHES, raise_exception=True)
def batch_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.batch_list_with_outcomes_for(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "scoring/batch_list.html",
        {
            "batches": page.object_list,
            "page_obj": page,
            "is_paginated": page.has_other_pages(),
            "sees_all": request.user.has_perm(Perm.VIEW_ALL_APPLICATIONS),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.SUBMIT_BATCH, raise_exception=True)
def batch_new(request: HttpRequest) -> HttpResponse:
    form = (
        BatchUploadForm(request.POST, request.FILES)
        if request.method == "POST"
        else BatchUploadForm()
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = batch_intake.batch_create(
                actor=request.user, filename=upload.name, content=upload.read()
            )
        except batch_intake.BatchInvalid as error:
            for problem in error.errors.values():
                form.add_error("file", _sentence(problem))
        except NoActiveModel:
            form.add_error(
                None,
                "No model is active, so nothing could score this batch and it was not saved. "
                "Ask a model administrator to activate a model.",
            )
        except BatchQueueUnavailable as error:
            messages.warning(
                request,
                "The batch is saved; the scoring queue is unreachable right now, so its rows "
                "will be scored as soon as the queue is back.",
            )
            return redirect("applicants:batch_detail", batch_id=error.batch_id)
        else:
            return redirect("applicants:batch_detail", batch_id=batch.pk)
    return render(
        request,
        "scoring/batch_new.html",
        {
            "form": form,
            "required_columns": batch_intake.required_columns(),
            "max_rows": settings.CREDSCOPE_BATCH_MAX_ROWS,
            "resubmission_days": settings.CREDSCOPE_RESUBMISSION_DAYS,
            "max_megabytes": settings.CREDSCOPE_BATCH_MAX_BYTES // (1024 * 1024),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _sentence(problem: str) -> str:
    """ "is empty: ..." from the service, as "The file is empty: ..."."""
    text = problem.strip()
    if text.startswith(("is ", "has ")):
        text = "The file " + text
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


@require_GET
@permission_required(Perm.SUBMIT_BATCH, raise_exception=True)
def batch_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(batch_intake.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="credscope-batch-template.csv"'
    return response


def _batch_or_404(request: HttpRequest, batch_id: int) -> BatchJob:
    try:
        return selectors.batch_get_for(user=request.user, batch_id=batch_id)
    except BatchJob.DoesNotExist:
        raise Http404("No such batch") from None


@require_GET
@permission_required(Perm.VIEW_BATCHES, raise_exception=True)
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    progress = selectors.batch_status(batch=batch)
    context = {"batch": batch, "progress": progress}
    if progress["finished"]:
        row_errors = selectors.batch_row_errors(batch=batch)
        applications = list(selectors.batch_applications(batch=batch)[: APPLICATIONS_SHOWN + 1])
        context |= {
            "histogram": batch_charts.batch_histogram(batch=batch),
            "bands": batch_charts.batch_band_counts(batch=batch),
            "row_errors": row_errors[:ERRORS_SHOWN],
            "row_warnings": selectors.batch_row_warnings(batch=batch)[:ERRORS_SHOWN],
            "more_errors": max(0, len(row_errors) - ERRORS_SHOWN),
            "applications": applications[:APPLICATIONS_SHOWN],
            "more_applications": len(applications) > APPLICATIONS_SHOWN,
        }
    return render(request, "scoring/batch_detail.html", context)


@require_GET
@never_cache
@permission_required(Perm.VIEW_BATCHES, raise_exception=True)
def batch_status(request: HttpRequest, batch_id: int) -> JsonResponse:
    """What the batch page polls while rows are scored."""
    batch = _batch_or_404(request, batch_id)
    return JsonResponse(selectors.batch_status(batch=batch))


@require_GET
@permission_required(Perm.VIEW_BATCHES, raise_exception=True)
def batch_results(request: HttpRequest, batch_id: int) -> StreamingHttpResponse:
    """One CSV line per input line: the decision, or what was wrong with the line."""
    batch = _batch_or_404(request, batch_id)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in selectors.batch_results_rows(batch=batch)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-results.csv"'
    return response


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value
