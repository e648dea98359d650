"""The credit-history summary an officer reads: counts and sums over Kaggle history rows."""

from __future__ import annotations

import json

import pytest

from scoring.selectors import credit_history_summary_for, summarise_history
from tests.factories import LoanApplicationFactory


def payment(prev, number, due, paid, amount_due, amount_paid) -> dict:
    return {
        "SK_ID_PREV": prev,
        "NUM_INSTALMENT_VERSION": 1,
        "NUM_INSTALMENT_NUMBER": number,
        "DAYS_INSTALMENT": due,
        "DAYS_ENTRY_PAYMENT": paid,
        "AMT_INSTALMENT": amount_due,
        "AMT_PAYMENT": amount_paid,
    }


def test_partial_payments_count_as_one_instalment() -> None:
    rows = [
        payment(1, 1, -40, -45, 100.0, 60.0),  # one instalment paid in two parts,
        payment(1, 1, -40, -30, 100.0, 40.0),  # the second part late
        payment(1, 2, -800, -800, 100.0, 70.0),  # on time but short, two years ago
        payment(2, 1, -700, -650, 50.0, 50.0),  # late, two years ago
        payment(2, 2, -670, None, 50.0, float("nan")),  # not paid: unpaid, not "late"
    ]
    summary = summarise_history({"installments_payments": rows}, source="inline")
    assert summary.instalments == 4
    assert summary.late_instalments == 2
    assert summary.late_instalments_last_year == 1
    assert summary.missed_payment_amount == pytest.approx(80.0)


def test_bureau_and_monthly_tables() -> None:
    summary = summarise_history(
        {
            "bureau": [
                {
                    "CREDIT_ACTIVE": "Active",
                    "AMT_CREDIT_SUM_OVERDUE": 10.0,
                    "CREDIT_DAY_OVERDUE": 5,
                    "AMT_CREDIT_SUM_DEBT": 1000.0,
                },
                {"CREDIT_ACTIVE": "Sold", "AMT_CREDIT_SUM_OVERDUE": None, "CREDIT_DAY_OVERDUE": 90},
                {"CREDIT_ACTIVE": "Closed", "AMT_CREDIT_SUM_DEBT": 500.0},
            ],
            "bureau_balance": [{"STATUS": "0"}, {"STATUS": "2"}, {"STATUS": "C"}, {"STATUS": "5"}],
            "POS_CASH_balance": [{"SK_DPD": 0}, {"SK_DPD": 3}],
            "credit_card_balance": [{"SK_DPD": 12}],
        },
        source="stored",
    )
    assert (summary.bureau_credits, summary.bureau_active, summary.bureau_closed) == (3, 1, 1)
    assert summary.bureau_bad_debt == 1
    assert summary.bureau_overdue_amount == 10.0 and summary.bureau_max_days_overdue == 90
    assert summary.bureau_active_debt == 1000.0
    assert summary.bureau_late_months == 2
    assert summary.months_past_due == 2
    assert not summary.is_empty


@pytest.mark.django_db
def test_an_application_without_history_or_known_id_has_no_summary() -> None:
    assert credit_history_summary_for(application=LoanApplicationFactory()) is None


@pytest.mark.django_db
def test_a_known_id_reads_the_stored_history(settings, tmp_path) -> None:
    """A cache folder as build_cache writes it (manifest + parquet), with one client's rows."""
    from scoring.ml.data.history_store import CACHE_MANIFEST, frames_from_records

    cache = tmp_path / "cache"
    cache.mkdir()
    bureau = [
        {"SK_ID_CURR": 100001, "SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Active"},
        {"SK_ID_CURR": 100001, "SK_ID_BUREAU": 2, "CREDIT_ACTIVE": "Closed"},
        {"SK_ID_CURR": 100002, "SK_ID_BUREAU": 3, "CREDIT_ACTIVE": "Active"},
    ]
    frames_from_records("bureau", bureau).to_parquet(cache / "bureau.parquet")
    (cache / CACHE_MANIFEST).write_text(
        json.dumps({"tables": {"bureau": {"file": "bureau.parquet"}}})
    )
    settings.CREDSCOPE_DATA_DIR = tmp_path

    application = LoanApplicationFactory(applicant__external_id=100001)
    summary = credit_history_summary_for(application=application)
    assert summary is not None and summary.source == "stored"
    assert (summary.bureau_credits, summary.bureau_active, summary.bureau_closed) == (2, 1, 1)
