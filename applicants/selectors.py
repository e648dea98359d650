"""Reads of loan applications that pages and the API share, scoped to what the reader may see.

Loan officers see the applications they submitted; readers with the "view all" permission
(compliance) see every application; anybody else sees none. Every page and endpoint that
shows applications goes through these functions, so the rule lives in one place.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from applicants.models import LoanApplication
from credscope_site.roles import Perm


def application_visible_to(*, user: AbstractBaseUser) -> QuerySet[LoanApplication]:
    """Every application `user` may read, unfiltered and unordered beyond the default."""
    if not getattr(user, "is_authenticated", False):
        return LoanApplication.objects.none()
    if user.has_perm(Perm.VIEW_ALL_APPLICATIONS):
        return LoanApplication.objects.all()
    if user.has_perm(Perm.VIEW_OWN_APPLICATIONS):
        return LoanApplication.objects.filter(created_by=user)
    return LoanApplication.objects.none()


def application_list_for(
    *,
    user: AbstractBaseUser,
    status: str | None = None,
    outcome: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    search: str | None = None,
) -> QuerySet[LoanApplication]:
    """The applications `user` may read, newest first, with their decision joined.

    `outcome` filters on the model's decision; `date_from`/`date_to` are inclusive days of
    submission (in the site's time zone); `search` matches the applicant's name, the
    application id or the applicant's known external id.
    """
    applications = application_visible_to(user=user).select_related(
        "applicant",
        "created_by",
        "decision",
        "decision__model_version",
        "decision__policy",
    )
    if status:
        applications = applications.filter(status=status)
    if outcome:
        applications = applications.filter(decision__outcome=outcome)
    if date_from:
        applications = applications.filter(submitted_at__gte=_start_of(date_from))
    if date_to:
        applications = applications.filter(submitted_at__lt=_start_of(date_to) + timedelta(days=1))
    search = (search or "").strip()
    if search:
        match = Q(applicant__full_name__icontains=search)
        if search.isdigit():
            match |= Q(pk=int(search)) | Q(applicant__external_id=int(search))
        applications = applications.filter(match)
    return applications.order_by("-submitted_at", "-id")


def application_get_for(*, user: AbstractBaseUser, application_id: int) -> LoanApplication:
    """One application `user` may read, with its decision.

    Raises `LoanApplication.DoesNotExist` both when there is no such application and when it
    belongs to someone the reader may not see, so callers answer 404 in both cases and never
    reveal that another officer's application exists.
    """
    return (
        application_visible_to(user=user)
        .select_related(
            "applicant", "created_by", "decision", "decision__model_version", "decision__policy"
        )
        .get(pk=application_id)
    )


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
