"""Reads behind the batch pages: which batches a user may see, and what one produced.

Progress counts come from `scoring.batches.batch_progress` (the API reports the same); this
module adds what only the pages show: the histogram, the errors table and the CSV template.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from applicants.models import LoanApplication
from applicants.presentation import pd_histogram
from credscope_site.roles import Perm
from scoring import batches
from scoring.models import BatchJob, Decision
from scoring.policy import outcome_for
from scoring.services import current_policy

REQUIRED_COLUMNS = ("AMT_INCOME_TOTAL", "AMT_CREDIT", "DAYS_BIRTH")
FINISHED = (BatchJob.Status.DONE, BatchJob.Status.FAILED)

# The template a loan officer downloads: the usual columns and two filled-in examples
# (Kaggle conventions: day offsets before the application, 365243 = not employed).
TEMPLATE_COLUMNS = (
    batches.EXTERNAL_ID_COLUMN,
    "NAME_CONTRACT_TYPE",
    "CODE_GENDER",
    "FLAG_OWN_CAR",
    "FLAG_OWN_REALTY",
    "CNT_CHILDREN",
    "CNT_FAM_MEMBERS",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "NAME_INCOME_TYPE",
    "NAME_EDUCATION_TYPE",
    "NAME_FAMILY_STATUS",
    "NAME_HOUSING_TYPE",
    "OCCUPATION_TYPE",
    "ORGANIZATION_TYPE",
    "DAYS_BIRTH",
    "DAYS_EMPLOYED",
    "EXT_SOURCE_1",
    "EXT_SOURCE_2",
    "EXT_SOURCE_3",
)
TEMPLATE_EXAMPLES = (
    (
        "",
        "Cash loans",
        "F",
        "N",
        "Y",
        "1",
        "3",
        "180000",
        "500000",
        "25000",
        "450000",
        "Working",
        "Higher education",
        "Married",
        "House / apartment",
        "Accountants",
        "Bank",
        "-15000",
        "-2500",
        "",
        "0.65",
        "0.58",
    ),
    (
        "",
        "Revolving loans",
        "M",
        "Y",
        "N",
        "0",
        "1",
        "90000",
        "270000",
        "13500",
        "",
        "Pensioner",
        "Secondary / secondary special",
        "Single / not married",
        "Rented apartment",
        "",
        "XNA",
        "-23000",
        "365243",
        "",
        "0.41",
        "",
    ),
)


def batch_list_for(*, user: AbstractBaseUser) -> QuerySet[BatchJob]:
    """The batches `user` uploaded, newest first (an officer sees only their own)."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm(Perm.VIEW_BATCHES):
        return BatchJob.objects.none()
    return (
        BatchJob.objects.filter(created_by=user)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )


def batch_get_for(*, user: AbstractBaseUser, batch_id: int) -> BatchJob:
    """One batch `user` may see; `BatchJob.DoesNotExist` otherwise (answer 404 either way)."""
    return batch_list_for(user=user).get(pk=batch_id)


def batch_status(*, batch: BatchJob) -> dict[str, Any]:
    """What the batch page polls: the shared progress counts, the status, whether done."""
    return {
        **batches.batch_progress(batch=batch),
        "status": batch.status,
        "status_label": batch.get_status_display(),
        "finished": batch.status in FINISHED,
    }


def batch_row_errors(*, batch: BatchJob) -> list[tuple[int, list[tuple[str, str]]]]:
    """The invalid rows, in file order, each with its (field, message) pairs."""
    return sorted(
        ((int(row), list(errors.items())) for row, errors in batch.row_errors.items()),
        key=lambda item: item[0],
    )


def batch_applications(*, batch: BatchJob) -> QuerySet[LoanApplication]:
    return batch.applications.select_related("decision").order_by("batch_row")


def batch_histogram(*, batch: BatchJob) -> dict[str, Any]:
    """Counts of the batch's probabilities of default by bin, each bin coloured by the
    outcome the policy gives at its middle."""
    decisions = Decision.objects.filter(application__batch=batch)
    first = decisions.select_related("policy").first()
    policy = first.policy if first is not None else current_policy()
    histogram = pd_histogram(
        decisions.values_list("probability_of_default", flat=True),
        reject_at_or_above=policy.reject_at_or_above,
    )
    edges, width = histogram.pop("lower_edges"), histogram.pop("width")
    histogram["zones"] = [outcome_for(min(edge + width / 2, 1.0), policy) for edge in edges]
    return histogram


def template_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerows(TEMPLATE_EXAMPLES)
    return buffer.getvalue()
