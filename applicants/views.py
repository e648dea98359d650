"""The loan officer's pages: new application, the list, one application, the review queue.

Doors only: each view parses the request, calls one service or selector and renders. Every
read of an application goes through `applicants.selectors`, so an officer asking for
another officer's application gets 404, not a hint that it exists.
"""

from __future__ import annotations

import csv
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from applicants import export, selectors
from applicants.filters import ApplicationFilter
from applicants.forms import ApplicationForm, OverrideForm
from applicants.models import LoanApplication
from applicants.services import counteroffers, review, submit
from credscope_site.roles import Perm
from scoring import registry
from scoring.queue import ApplicationQueueUnavailable
from scoring.registry import NoActiveModel

PAGE_SIZE = 20


@require_http_methods(["GET", "POST"])
@permission_required(Perm.SUBMIT_APPLICATION, raise_exception=True)
def application_new(request: HttpRequest) -> HttpResponse:
    # The form asks for what the active model version requires (its input contract).
    contract = registry.input_contract()
    form = ApplicationForm(request.POST if request.method == "POST" else None, contract=contract)
    # One key per rendering of the form: a double-click or a resent POST makes no second
    # application (the service answers the first one for the same key and body).
    idempotency_key = request.POST.get("idempotency_key") or uuid.uuid4().hex
    if request.method == "POST" and form.is_valid():
        submission = {
            "actor": request.user,
            "channel": LoanApplication.Channel.WEB,
            "application_row": form.application_row,
            "full_name": form.cleaned_data["full_name"],
            "external_id": form.cleaned_data["external_id"],
        }
        try:
            try:
                application, created = submit.application_submit(
                    **submission, idempotency_key=idempotency_key[:128]
                )
            except submit.IdempotencyConflict:
                # The officer went back and changed the form: that is a new application.
                idempotency_key = uuid.uuid4().hex
                application, created = submit.application_submit(
                    **submission, idempotency_key=idempotency_key
                )
        except submit.ApplicationInvalid as error:
            form.add_service_errors(error.errors)
        except NoActiveModel:
            form.add_error(
                None,
                "No model is active, so nothing could score this application and it was not "
                "saved. Ask a model administrator to activate a model, then submit again.",
            )
        except ApplicationQueueUnavailable as error:
            messages.warning(
                request,
                "The application is saved; the scoring queue is unreachable right now, so it "
                "will be scored as soon as the queue is back.",
            )
            return redirect("applicants:detail", application_id=error.application_id)
        else:
            if not created:
                messages.info(request, "This application was already submitted; here it is.")
            return redirect("applicants:detail", application_id=application.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "applicants/application_form.html",
        {"form": form, "idempotency_key": idempotency_key},
        status=status,
    )


@require_GET
@permission_required(Perm.VIEW_OWN_APPLICATIONS, raise_exception=True)
def application_list(request: HttpRequest) -> HttpResponse:
    filters = ApplicationFilter(
        request.GET or None,
        queryset=selectors.application_list_for(user=request.user).select_related(
            "decision__override"
        ),
    )
    # A filter that cannot be applied (a search of '²', an unknown status) shows nothing and
    # says why, with status 400; it never silently widens to the whole list.
    invalid = filters.is_bound and not filters.is_valid()
    applications = filters.queryset.none() if invalid else filters.qs
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "applicants/application_list.html",
        {
            "filters": filters.form,
            "filtered": filters.active or invalid,
            "page_obj": page,
            "applications": page.object_list,
            "is_paginated": page.has_other_pages(),
            "sees_all": request.user.has_perm(Perm.VIEW_ALL_APPLICATIONS),
        },
        status=400 if invalid else 200,
    )


@require_GET
@permission_required(Perm.VIEW_OWN_APPLICATIONS, raise_exception=True)
def application_export(request: HttpRequest) -> HttpResponse:
    """The list as CSV, with the page's filters and sort: officers their own, compliance all."""
    # Always bound: no parameters is a valid request for the whole (visible) list.
    filters = ApplicationFilter(
        request.GET, queryset=selectors.application_list_for(user=request.user)
    )
    if not filters.is_valid():
        # Exporting everything when a filter is mistyped would hand over more than was asked.
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in filters.errors.items())
        return HttpResponse(
            f"Nothing exported: {problems}\n", status=400, content_type="text/plain; charset=utf-8"
        )
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in export.application_export_rows(filters.qs)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="applications-{stamp}.csv"'
    return response


class _Echo:
    """A file-like object whose write() hands the line back, for streaming csv.writer."""

    def write(self, value: str) -> str:
        return value


def _application_or_404(request: HttpRequest, application_id: int) -> LoanApplication:
    try:
        return selectors.application_get_for(user=request.user, application_id=application_id)
    except LoanApplication.DoesNotExist:
        raise Http404("No such application") from None


@require_GET
@permission_required(Perm.VIEW_OWN_APPLICATIONS, raise_exception=True)
def application_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    application = _application_or_404(request, application_id)
    # A batch row's counteroffer is searched the first time it is read on its own.
    counteroffers.counteroffer_settle(application=application)
    return _render_detail(request, application, override_form=OverrideForm())


@require_POST
@permission_required(Perm.SUBMIT_APPLICATION, raise_exception=True)
def counteroffer_accept(request: HttpRequest, application_id: int) -> HttpResponse:
    """Accept the counteroffer: the new, linked application's page, or this page saying why
    it could not be accepted."""
    application = _application_or_404(request, application_id)
    try:
        accepted, created = counteroffers.counteroffer_accept(
            application=application, actor=request.user, channel=LoanApplication.Channel.WEB
        )
    except counteroffers.CounterofferRefused as error:
        if error.status == 403:
            raise PermissionDenied(str(error)) from None
        messages.error(request, str(error))
        return redirect(reverse("applicants:detail", args=[application.pk]) + "#counteroffer")
    except submit.ApplicationInvalid as error:
        problems = "; ".join(f"{name}: {message}" for name, message in error.errors.items())
        messages.error(request, f"The offered terms were not accepted: {problems}")
        return redirect(reverse("applicants:detail", args=[application.pk]) + "#counteroffer")
    except NoActiveModel:
        messages.error(request, "No model is active, so nothing could score the offer.")
        return redirect(reverse("applicants:detail", args=[application.pk]) + "#counteroffer")
    except ApplicationQueueUnavailable as error:
        messages.warning(
            request,
            "The counteroffer is accepted as a new application; the scoring queue is "
            "unreachable right now, so it will be scored as soon as the queue is back.",
        )
        return redirect("applicants:detail", application_id=error.application_id)
    if created:
        messages.success(
            request,
            f"Counteroffer accepted: application #{accepted.pk} was made with the offered "
            f"terms, linked to application #{application.pk}.",
        )
    else:
        messages.info(request, "This counteroffer was already accepted; here is that application.")
    return redirect("applicants:detail", application_id=accepted.pk)


def _render_detail(
    request: HttpRequest, application: LoanApplication, *, override_form: OverrideForm, status=200
) -> HttpResponse:
    context = selectors.application_page(application=application, user=request.user)
    context["override_form"] = override_form
    return render(request, "applicants/application_detail.html", context, status=status)


@require_GET
@never_cache
@permission_required(Perm.VIEW_OWN_APPLICATIONS, raise_exception=True)
def application_status(request: HttpRequest, application_id: int) -> JsonResponse:
    """What the application page polls while the application is being scored."""
    application = _application_or_404(request, application_id)
    return JsonResponse(selectors.application_status(application=application))


@require_POST
@permission_required(Perm.VIEW_OWN_APPLICATIONS, raise_exception=True)
def application_override(request: HttpRequest, application_id: int) -> HttpResponse:
    """Any reader of the application may try; the review service applies the four-eyes rules
    (and records a refused attempt), so the answer names the rule that refused it."""
    application = _application_or_404(request, application_id)
    decision = selectors.decision_of(application)
    if decision is None:
        raise Http404("This application has no decision yet")
    form = OverrideForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            review.decision_override_record(
                decision=decision,
                outcome=form.cleaned_data["outcome"],
                justification=form.cleaned_data["justification"],
                reviewer=request.user,
            )
        except review.OverrideInvalid as error:
            form.add_error(error.field, str(error))
        except review.OverrideRefused as error:
            form.add_error(None, str(error))
            status = error.status
        else:
            messages.success(
                request,
                f"Application #{application.pk}: your decision "
                f"({form.cleaned_data['outcome'].lower()}) is on record.",
            )
            return redirect(reverse("applicants:detail", args=[application.pk]) + "#review")
    # Read again: a refused override may be refused because another reviewer got there first.
    application = _application_or_404(request, application_id)
    return _render_detail(request, application, override_form=form, status=status)


@require_GET
@permission_required(Perm.OVERRIDE_DECISION, raise_exception=True)
def review_queue(request: HttpRequest) -> HttpResponse:
    queue = selectors.review_queue_for(user=request.user)
    page = Paginator(queue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "applicants/review_queue.html",
        {
            "page_obj": page,
            "decisions": page.object_list,
            "is_paginated": page.has_other_pages(),
            "senior_pd": settings.CREDSCOPE_SENIOR_OVERRIDE_PD,
        },
    )


@require_GET
@permission_required(Perm.VIEW_OVERRIDE_REPORT, raise_exception=True)
def override_report(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "applicants/override_report.html",
        {"rows": selectors.override_report(user=request.user)},
    )
