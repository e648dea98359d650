"""`manage.py seed_demo_fairness`: a demo batch, reviews and outcomes, once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from applicants.models import LoanApplication, LoanOutcome
from audits.actions import AuditAction
from audits.models import AuditEvent
from scoring.models import BatchJob, DecisionOverride
from tests.factories import ApplicantFactory, DecisionFactory


@pytest.mark.django_db
def test_outcomes_come_from_the_generator_then_the_pd(
    officer, compliance, settings, tmp_path, capsys
) -> None:
    settings.CREDSCOPE_DATA_DIR = tmp_path
    (tmp_path / "synth" / "oracle").mkdir(parents=True)
    pq.write_table(
        pa.table({"SK_ID_CURR": [500001, 500002], "p_default": [1.0, 0.0]}),
        tmp_path / "synth" / "oracle" / "oracle.parquet",
    )
    sure_default = DecisionFactory(
        application__created_by=officer,
        application__idempotency_key="demo-seed-sk500001",
        application__applicant=ApplicantFactory(external_id=500001, created_by=officer),
    ).application
    sure_repay = DecisionFactory(
        application__created_by=officer,
        application__idempotency_key="demo-seed-sk500002",
        application__applicant=ApplicantFactory(external_id=500002, created_by=officer),
    ).application
    made_up = DecisionFactory(
        application__created_by=officer,
        application__idempotency_key="demo-seed-gen7-1",
        probability_of_default=0.0,
    ).application
    not_seeded = DecisionFactory(application__created_by=officer).application

    call_command("seed_demo_fairness", "--rows", "0")
    outcomes = dict(LoanOutcome.objects.values_list("application_id", "outcome"))
    assert outcomes == {
        sure_default.pk: "defaulted",
        sure_repay.pk: "repaid",
        made_up.pk: "repaid",
    }
    assert not_seeded.pk not in outcomes
    out = capsys.readouterr().out
    assert "3 outcomes recorded" in out
    assert "2 from draws from the generator's true default probability" in out
    assert "1 from draws from the decision's PD" in out
    assert AuditEvent.objects.get(action=AuditAction.OUTCOMES_IMPORTED).actor == compliance

    call_command("seed_demo_fairness", "--rows", "0")
    assert LoanOutcome.objects.count() == 3
    assert "0 outcomes recorded" in capsys.readouterr().out


@pytest.mark.slow
def test_the_demo_batch_is_scored_reviewed_and_given_outcomes_once(
    officer,
    compliance,
    trained_model,
    settings,
    tmp_path,
    capsys,
    django_capture_on_commit_callbacks,
) -> None:
    settings.CREDSCOPE_DATA_DIR = tmp_path  # no cache: generated profiles
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo_fairness", "--rows", "40")
    batch = BatchJob.objects.get(created_by=officer)
    assert batch.status == "done" and batch.total_rows == 40
    decided = LoanApplication.objects.filter(batch=batch, status="DECIDED")
    # Generated profiles outside the model's trained domain are refused as row errors
    # (issue 11's input contract); every row the batch took is decided and gets an outcome.
    assert decided.count() == 40 - batch.invalid_rows >= 30
    assert LoanOutcome.objects.filter(application__batch=batch).count() == decided.count()
    referred = decided.filter(decision__outcome="REFER").count()
    reviews = DecisionOverride.objects.filter(decision__application__batch=batch)
    assert reviews.count() <= referred
    assert set(reviews.values_list("reviewer__username", flat=True)) <= {"officer"}
    call_command("seed_demo_fairness", "--rows", "40")
    assert BatchJob.objects.count() == 1 and LoanOutcome.objects.count() == decided.count()
    assert "no new batch" in capsys.readouterr().out
