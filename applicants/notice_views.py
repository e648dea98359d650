"""Pages that hand out adverse-action notices (thin doors over `services.notices`)."""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from applicants import selectors
from applicants.models import LoanApplication
from applicants.services import notices
from credscope_site.roles import Perm
from scoring import selectors as scoring_selectors
from scoring.models import BatchJob


@require_GET
@never_cache
# The notice is a self-contained print document (its CSS inline, as WeasyPrint renders it);
# it has no script, so only its own styles are let through.
@csp_update({"style-src": ["'unsafe-inline'"]})
@permission_required(Perm.VIEW_OWN_APPLICATIONS, raise_exception=True)
def application_notice(request: HttpRequest, application_id: int, fmt: str) -> HttpResponse:
    """The notice of a declined application: print-ready HTML, or PDF to download."""
    try:
        application = selectors.application_get_for(
            user=request.user, application_id=application_id
        )
    except LoanApplication.DoesNotExist:
        raise Http404("No such application") from None
    try:
        notice = notices.notice_produce(application=application, actor=request.user, fmt=fmt)
    except notices.NoticeUnavailable as error:
        return HttpResponse(str(error), status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(notice.content, content_type=notice.content_type)
    if fmt == notices.PDF:
        response["Content-Disposition"] = f'attachment; filename="{notice.filename}"'
    return response


@require_GET
@never_cache
@permission_required(Perm.VIEW_BATCHES, raise_exception=True)
def batch_notices(request: HttpRequest, batch_id: int) -> HttpResponse:
    """One zip of the notices of the batch's declined applications."""
    try:
        batch = scoring_selectors.batch_get_for(user=request.user, batch_id=batch_id)
    except BatchJob.DoesNotExist:
        raise Http404("No such batch") from None
    content, _ = notices.batch_notices_produce(batch=batch, actor=request.user)
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="batch-{batch.pk}-adverse-action-notices.zip"'
    )
    return response
