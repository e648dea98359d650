"""A list's first page is read straight off an index, whatever the number of applications.

A batch's rows share one submission time. With only the time indexed, PostgreSQL joined and
sorted every row of the latest batch to show the first page (60 ms for a 10,000-row batch).
Here sorting is priced out of reach: a plan that still sorts has no index in the list's
whole order to read from.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from applicants import selectors
from applicants.models import LoanApplication
from tests.factories import LoanApplicationFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def first_page_plan(user) -> str:
    page = selectors.application_list_for(user=user)[:25]
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_sort", "enable_incremental_sort", "enable_seqscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        return page.explain()


def test_first_pages_come_in_order_off_an_index_without_sorting() -> None:
    officer = UserFactory(roles=["loan_officer"])
    other = UserFactory(roles=["loan_officer"])
    compliance = UserFactory(roles=["compliance"])
    batch = [LoanApplicationFactory(created_by=officer) for _ in range(30)]
    LoanApplicationFactory.create_batch(5, created_by=other)
    # One upload: every row submitted at the same moment.
    LoanApplication.objects.filter(pk__in=[a.pk for a in batch]).update(
        submitted_at=batch[0].submitted_at
    )

    for user, index in ((officer, "application_list_by_officer"),
                        (compliance, "application_list_newest_first")):  # fmt: skip
        plan = first_page_plan(user)
        assert "Sort" not in plan, plan
        assert index in plan, plan

    # And the order is the list's: newest first, then the highest id among equal times.
    shown = list(selectors.application_list_for(user=officer).values_list("pk", flat=True))
    assert shown == sorted((a.pk for a in batch), reverse=True)
