"""Generated applicants saved as one batch and decided the way a worker decides it."""

from __future__ import annotations

from typing import Any

from applicants.models import Applicant, LoanApplication
from credscope_site.fields import bulk_batch_size
from scoring import chunks
from scoring.models import BatchJob


def batch_decided(
    officer, applications: list[dict[str, Any]], *, filename: str
) -> tuple[BatchJob, list[LoanApplication]]:
    """`applications` ({"row", "history"} as a client sends them) saved as the rows of one
    batch of `officer`'s and decided by `chunks.batch_decide`: the batch and its applications
    in row order."""
    batch = BatchJob.objects.create(
        created_by=officer, filename=filename, total_rows=len(applications)
    )
    applicants = Applicant.objects.bulk_create(
        [Applicant(days_birth=a["row"]["DAYS_BIRTH"], created_by=officer) for a in applications],
        batch_size=bulk_batch_size(Applicant),
    )
    saved = LoanApplication.objects.bulk_create(
        [
            LoanApplication(
                applicant=applicant,
                created_by=officer,
                channel="batch",
                batch=batch,
                batch_row=i + 1,
                contract_type=a["row"]["NAME_CONTRACT_TYPE"],
                amt_income_total=a["row"]["AMT_INCOME_TOTAL"],
                amt_credit=a["row"]["AMT_CREDIT"],
                application_row=a["row"],
                history=a["history"],
            )
            for i, (applicant, a) in enumerate(zip(applicants, applications, strict=True))
        ],
        batch_size=bulk_batch_size(LoanApplication),
    )
    chunks.batch_decide(batch_id=batch.pk, task_id=filename)
    return batch, saved
