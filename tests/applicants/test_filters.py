"""The applications list's one FilterSet, as the page and the API both use it."""

from __future__ import annotations

import pytest

from applicants.filters import ApplicationFilter
from applicants.models import LoanApplication
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db


def test_bad_values_are_invalid_and_named() -> None:
    filters = ApplicationFilter(
        {"status": "nope", "date_from": "2026-02-01", "date_to": "2026-01-01"},
        queryset=LoanApplication.objects.all(),
    )
    assert not filters.is_valid()
    assert set(filters.errors) == {"status", "date_to"}


def test_good_values_narrow_the_queryset(officer) -> None:
    referred = DecisionFactory(outcome="REFER", application__created_by=officer).application
    DecisionFactory(outcome="APPROVE", application__created_by=officer)
    LoanApplicationFactory(created_by=officer)
    filters = ApplicationFilter(
        {"status": "DECIDED", "outcome": "REFER", "search": f" {referred.pk} "},
        queryset=LoanApplication.objects.all(),
    )
    assert filters.is_valid() and filters.active
    assert list(filters.qs) == [referred]


def test_no_values_is_no_filter(officer) -> None:
    LoanApplicationFactory.create_batch(2, created_by=officer)
    filters = ApplicationFilter({}, queryset=LoanApplication.objects.all())
    assert filters.is_valid() and not filters.active
    assert filters.qs.count() == 2
