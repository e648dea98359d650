"""The applications list: sorting, the date filter, and the CSV export of what is shown."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from applicants.models import LoanApplication
from tests.factories import DecisionFactory, LoanApplicationFactory

pytestmark = pytest.mark.django_db


def exported(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="applications-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def three(officer):
    """Three decided applications of the officer, submitted 1, 5 and 10 days ago."""
    made = []
    for days, pd, credit, name in [
        (1, 0.30, "250000", "Zuzana Mala"),
        (5, 0.02, "900000", '=HYPERLINK("x")'),
        (10, 0.12, "500000", "Adam Velky"),
    ]:
        decision = DecisionFactory(
            application__created_by=officer,
            application__applicant__full_name=name,
            application__amt_credit=Decimal(credit),
            probability_of_default=pd,
        )
        LoanApplication.objects.filter(pk=decision.application_id).update(
            submitted_at=timezone.now() - timedelta(days=days)
        )
        made.append(decision.application_id)
    return made


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("", [0, 1, 2]),  # newest first
        ("submitted", [2, 1, 0]),
        ("-pd", [0, 2, 1]),
        ("pd", [1, 2, 0]),
        ("-credit", [1, 2, 0]),
        ("name", [1, 2, 0]),  # "=" sorts before letters
    ],
)
def test_the_list_and_its_export_follow_the_chosen_sort(client, officer, three, sort, order):
    client.force_login(officer)
    expected = [three[i] for i in order]
    page = client.get(reverse("applicants:list"), {"sort": sort})
    assert [a.pk for a in page.context["applications"]] == expected
    rows = exported(client.get(reverse("applicants:export"), {"sort": sort}))
    assert [int(r["application_id"]) for r in rows] == expected


def test_date_filter_narrows_the_list_and_the_export(client, officer, three) -> None:
    client.force_login(officer)
    today = timezone.localdate()
    window = {"date_from": str(today - timedelta(days=6)), "date_to": str(today)}
    page = client.get(reverse("applicants:list"), window).content.decode()
    assert 'type="date"' in page and f'value="{window["date_from"]}"' in page
    assert "Zuzana Mala" in page and "Adam Velky" not in page
    # The export link carries the same filters.
    assert "Export CSV (filtered)" in page
    assert f"date_from={window['date_from']}" in page
    rows = exported(client.get(reverse("applicants:export"), window))
    assert sorted(int(r["application_id"]) for r in rows) == sorted(three[:2])


def test_a_bad_filter_exports_nothing_and_says_why(client, officer, three) -> None:
    client.force_login(officer)
    response = client.get(reverse("applicants:export"), {"date_from": "yesterday"})
    assert response.status_code == 400
    assert "Nothing exported: date_from: Enter a valid date." in response.content.decode()
    response = client.get(reverse("applicants:export"), {"sort": "salary"})
    assert response.status_code == 400 and "sort" in response.content.decode()


def test_export_columns_amounts_currency_and_no_spreadsheet_formulas(
    client, officer, three, settings
) -> None:
    settings.CREDSCOPE_CURRENCY = "CZK"
    client.force_login(officer)
    rows = exported(client.get(reverse("applicants:export"), {"sort": "-credit"}))
    top = rows[0]
    assert top["applicant"] == '\'=HYPERLINK("x")'  # inert in a spreadsheet
    assert top["currency"] == "CZK" and Decimal(top["AMT_CREDIT"]) == Decimal("900000")
    assert top["probability_of_default"] == "0.020000" and top["outcome"] == "REFER"
    assert top["officer"] == "officer" and top["submitted_at"].endswith("+00:00")


def test_officers_export_their_own_and_compliance_exports_all(
    client, officer, other_officer, compliance, model_admin, three
) -> None:
    theirs = LoanApplicationFactory(created_by=other_officer).pk
    url = reverse("applicants:export")
    client.force_login(officer)
    assert {int(r["application_id"]) for r in exported(client.get(url))} == set(three)
    client.force_login(other_officer)
    assert {int(r["application_id"]) for r in exported(client.get(url))} == {theirs}
    client.force_login(compliance)
    assert {int(r["application_id"]) for r in exported(client.get(url))} == {*three, theirs}
    client.force_login(model_admin)
    assert client.get(url).status_code == 403
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response["Location"]
