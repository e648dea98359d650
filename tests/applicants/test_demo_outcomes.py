"""`manage.py seed_demo_outcomes`: outcomes for the seeded demo applications, once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from applicants.models import LoanOutcome
from audits.actions import AuditAction
from audits.models import AuditEvent
from tests.factories import ApplicantFactory, DecisionFactory

pytestmark = pytest.mark.django_db


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

    call_command("seed_demo_outcomes", "--username", "compliance")
    outcomes = dict(LoanOutcome.objects.values_list("application_id", "outcome"))
    assert outcomes == {
        sure_default.pk: "defaulted",
        sure_repay.pk: "repaid",
        made_up.pk: "repaid",
    }
    assert not_seeded.pk not in outcomes
    out = capsys.readouterr().out
    assert "3 recorded" in out
    assert "2 from draws from the generator's true default probability" in out
    assert "1 from draws from the decision's PD" in out
    assert AuditEvent.objects.get(action=AuditAction.OUTCOMES_IMPORTED).actor == compliance

    call_command("seed_demo_outcomes", "--username", "compliance")
    assert LoanOutcome.objects.count() == 3
    assert "0 recorded" in capsys.readouterr().out
