"""Decisions with known group figures, written in bulk for fairness tests and the bench."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from applicants.models import Applicant, LoanApplication, LoanOutcome
from credscope_site.fields import bulk_batch_size
from scoring.models import Decision, DecisionOverride, DecisionPolicy, ModelVersion


@dataclass(frozen=True)
class Cohort:
    """`n` decisions of applicants sharing these attributes, `approved` of them APPROVE and
    `referred` REFER (the rest REJECT)."""

    n: int
    approved: int
    gender: str = "F"
    days_birth: int = -15000
    family_status: str = "Married"
    referred: int = 0
    overridden_up: int = 0
    overridden_down: int = 0
    defaulted: Sequence[int] = ()  # indices (within the cohort) that defaulted
    record_outcomes: bool = False


def make_decisions(
    *, officer: AbstractBaseUser, cohorts: Sequence[Cohort], seed: int = 1
) -> list[int]:
    """Write the cohorts' applicants, applications, decisions, overrides and outcomes in bulk;
    return the decision ids."""
    rng = random.Random(seed)
    model_version, _ = ModelVersion.objects.get_or_create(
        version="fairness-test-model",
        defaults={"profile": "test", "bundle_path": "/nonexistent", "feature_count": 1},
    )
    policy = DecisionPolicy.objects.order_by("-version").first()
    plan: list[tuple[Cohort, str, int]] = []
    for cohort in cohorts:
        outcomes = (
            ["APPROVE"] * cohort.approved
            + ["REFER"] * cohort.referred
            + ["REJECT"] * (cohort.n - cohort.approved - cohort.referred)
        )
        plan += [(cohort, outcome, index) for index, outcome in enumerate(outcomes)]
    applicants = Applicant.objects.bulk_create(
        [
            Applicant(code_gender=c.gender, days_birth=c.days_birth, created_by=officer)
            for c, _, _ in plan
        ],
        batch_size=bulk_batch_size(Applicant),
    )
    applications = LoanApplication.objects.bulk_create(
        [
            LoanApplication(
                applicant=applicant,
                created_by=officer,
                channel="web",
                status="DECIDED",
                contract_type="Cash loans",
                amt_income_total=100000,
                amt_credit=300000,
                application_row={"NAME_FAMILY_STATUS": c.family_status},
            )
            for applicant, (c, _, _) in zip(applicants, plan, strict=True)
        ],
        batch_size=bulk_batch_size(LoanApplication),
    )
    pds = {"APPROVE": 0.04, "REFER": 0.15, "REJECT": 0.4}
    decisions = Decision.objects.bulk_create(
        [
            Decision(
                application=application,
                probability_of_default=min(0.99, pds[outcome] + rng.random() * 0.02),
                logit=0.0,
                risk_band="MEDIUM",
                outcome=outcome,
                model_version=model_version,
                policy=policy,
                base_value=0.0,
                scoring_latency_ms=1.0,
            )
            for application, (_, outcome, _) in zip(applications, plan, strict=True)
        ],
        batch_size=bulk_batch_size(Decision),
    )
    overrides, outcomes = [], []
    refer_seen: dict[int, int] = {}
    for decision, (cohort, outcome, index) in zip(decisions, plan, strict=True):
        if outcome == "REFER":
            k = refer_seen.get(id(cohort), 0)
            refer_seen[id(cohort)] = k + 1
            if k < cohort.overridden_up + cohort.overridden_down:
                overrides.append(
                    DecisionOverride(
                        decision=decision,
                        outcome="APPROVE" if k < cohort.overridden_up else "REJECT",
                        justification="Checked the documents in person.",
                        reviewer=officer,
                    )
                )
        if cohort.record_outcomes:
            outcomes.append(
                LoanOutcome(
                    application_id=decision.application_id,
                    outcome="defaulted" if index in set(cohort.defaulted) else "repaid",
                    observed_at=timezone.localdate(),
                    recorded_by=officer,
                )
            )
    DecisionOverride.objects.bulk_create(overrides, batch_size=1000)
    LoanOutcome.objects.bulk_create(outcomes, batch_size=1000)
    return [d.pk for d in decisions]
