"""The columns an applicant and a loan application are saved with for a validated row, and
what the application's SUBMITTED audit event says: one definition for every door (the form,
the REST API, and the chunk tasks that save a CSV batch's rows in `scoring.chunks`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from applicants.models import Applicant, LoanApplication


def applicant_fields(
    row: dict[str, Any], full_name: str, external_id: int | None, actor: AbstractBaseUser
) -> dict[str, Any]:
    """The Applicant columns for a validated application row (shared with CSV batches)."""
    return {
        "full_name": full_name,
        "external_id": external_id,
        "code_gender": row.get("CODE_GENDER", Applicant.Gender.UNKNOWN),
        "days_birth": row["DAYS_BIRTH"],
        "created_by": actor,
    }


def application_fields(
    row: dict[str, Any],
    history: dict[str, list[dict[str, Any]]],
    actor: AbstractBaseUser,
    channel: str,
) -> dict[str, Any]:
    """The LoanApplication columns for a validated row (shared with CSV batches)."""
    return {
        "created_by": actor,
        "channel": channel,
        "status": LoanApplication.Status.SUBMITTED,
        "contract_type": row.get("NAME_CONTRACT_TYPE", LoanApplication.ContractType.CASH),
        "amt_income_total": _money(row["AMT_INCOME_TOTAL"]),
        "amt_credit": _money(row["AMT_CREDIT"]),
        "amt_annuity": _money(row.get("AMT_ANNUITY")),
        "amt_goods_price": _money(row.get("AMT_GOODS_PRICE")),
        "application_row": row,
        "history": history,
    }


def submitted_payload(application: LoanApplication) -> dict[str, Any]:
    return {
        "channel": application.channel,
        "applicant_id": application.applicant_id,
        "external_id": application.applicant.external_id,
        "amt_credit": application.amt_credit,
        "amt_income_total": application.amt_income_total,
        "inline_history_rows": sum(len(rows) for rows in (application.history or {}).values()),
        "idempotency_key": application.idempotency_key,
        "batch_id": application.batch_id,
        "batch_row": application.batch_row,
        "counteroffer_of": application.counteroffer_of_id,
        "before": None,
        "after": {"status": application.status},
    }


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(float(value), 2)))
