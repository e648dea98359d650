"""Factories for test data."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from scoring.ml.serving.explain import family_totals
from tests.scoring.ml.ml_support import SEED_APPLICATION_ROW

#: The test model's required inputs (`tests/scoring/ml/ml_support.py` trains it), kept in
#: one place: a test that spells out only the columns it is about adds the rest from here.
REQUIRED_EXTRAS = {
    name: value
    for name, value in SEED_APPLICATION_ROW.items()
    if not name.startswith("EXT_SOURCE_")
}


def minimal_application(**overrides) -> dict:
    """A valid minimal payload (`SEED_APPLICATION_ROW`) with `overrides`; a value of None
    leaves that column out."""
    row = {**SEED_APPLICATION_ROW, **overrides}
    return {name: value for name, value in row.items() if value is not None}


def with_required_columns(content: str | bytes) -> bytes:
    """A CSV upload with every required column it lacks appended, on every full line, with
    the minimal payload's value (a ragged line is left as it was written, still ragged)."""
    text = content.decode() if isinstance(content, bytes) else content
    header, *lines = text.rstrip("\n").split("\n")
    present = set(header.split(","))
    added = {k: v for k, v in REQUIRED_EXTRAS.items() if k not in present}
    if not added:
        return (text if text.endswith("\n") else text + "\n").encode()
    suffix_header = "," + ",".join(added)
    suffix = "," + ",".join(str(v) for v in added.values())
    cells = header.count(",")
    out = [
        header + suffix_header,
        *(line + suffix if line.count(",") == cells else line for line in lines),
    ]
    return ("\n".join(out) + "\n").encode()


def kept_batch_rows(batch) -> list[int]:
    """The batch's rows kept for scoring: saved as applications by their chunk task, or still
    waiting in an intake for it (tests without a worker stop there)."""
    waiting = [line[0] for intake in batch.intakes.all() for line in intake.lines]
    return sorted([*waiting, *batch.applications.values_list("batch_row", flat=True)])


DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        if create and extracted:
            self.groups.set([Group.objects.get(name=name) for name in extracted])
        if create:
            self.save()


# --- applications and decisions (portal tests) --------------------------------------------------


def _application_row(**overrides) -> dict:
    row = {
        "NAME_CONTRACT_TYPE": "Cash loans",
        "CODE_GENDER": "F",
        "AMT_INCOME_TOTAL": 180000.0,
        "AMT_CREDIT": 500000.0,
        "AMT_ANNUITY": 25000.0,
        "DAYS_BIRTH": -15000,
        "DAYS_EMPLOYED": -2000,
        "EXT_SOURCE_2": 0.6,
    }
    row.update(overrides)
    return row


class ApplicantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "applicants.Applicant"

    full_name = factory.Sequence(lambda n: f"Applicant {n}")
    code_gender = "F"
    days_birth = -15000
    created_by = factory.SubFactory(UserFactory, roles=["loan_officer"])


class LoanApplicationFactory(factory.django.DjangoModelFactory):
    """A submitted application; pass `status="DECIDED"` with a DecisionFactory for a decided one."""

    class Meta:
        model = "applicants.LoanApplication"

    created_by = factory.SubFactory(UserFactory, roles=["loan_officer"])
    applicant = factory.SubFactory(
        ApplicantFactory, created_by=factory.SelfAttribute("..created_by")
    )
    channel = "web"
    contract_type = "Cash loans"
    amt_income_total = 180000
    amt_credit = 500000
    amt_annuity = 25000
    application_row = factory.LazyFunction(_application_row)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "scoring.ModelVersion"
        django_get_or_create = ("version",)

    version = "test-model-v1"
    status = "candidate"
    profile = "tiny"
    bundle_path = "/nonexistent"
    feature_count = 3


def _contributions() -> list[dict]:
    names = [
        ("EXT_SOURCE_2", 0.21, -0.62),
        ("CREDIT_TO_INCOME_RATIO", 4.2, 0.41),
        ("DAYS_BIRTH", -9000, 0.33),
        ("AMT_ANNUITY", 25000.0, 0.12),
        ("INST_LATE_COUNT_12M", 4, 0.28),
        ("BURO_OVERDUE_SUM", 1200.0, 0.07),
        ("EXT_SOURCE_3", 0.7, -0.31),
        ("DAYS_EMPLOYED", -400, 0.15),
        ("NAME_EDUCATION_TYPE", "Higher education", -0.09),
        ("CNT_CHILDREN", 2, 0.03),
        ("REGION_RATING_CLIENT", 2, 0.02),
        ("FLAG_OWN_CAR", "N", 0.01),
    ]
    return [{"feature": f, "value": v, "contribution": c} for f, v, c in names]


def _current_policy():
    from scoring.models import DecisionPolicy

    return DecisionPolicy.objects.order_by("-version").first()


class DecisionFactory(factory.django.DjangoModelFactory):
    """A model decision (REFER by default) on a decided application."""

    class Meta:
        model = "scoring.Decision"

    application = factory.SubFactory(LoanApplicationFactory, status="DECIDED")
    probability_of_default = 0.12
    logit = -1.99
    risk_band = "MEDIUM"
    outcome = "REFER"
    model_version = factory.SubFactory(ModelVersionFactory)
    policy = factory.LazyFunction(_current_policy)
    reasons = factory.LazyFunction(
        lambda: [
            {
                "code": "CREDIT_TO_INCOME",
                "text": "Requested credit is high relative to income",
                "detail": "4.2 times annual income",
                "contribution": 0.41,
                "features": ["CREDIT_TO_INCOME_RATIO"],
            },
            {
                "code": "AGE",
                "text": "Age was a factor in the score",
                "detail": "",
                "contribution": 0.33,
                "features": ["DAYS_BIRTH"],
            },
        ]
    )
    base_value = -2.5
    contributions = factory.LazyFunction(_contributions)
    # As a decision stores them: summed from its items (scoring.ml.serving.explain).
    family_totals = factory.LazyAttribute(lambda d: family_totals(d.contributions))
    scoring_latency_ms = 12.5
