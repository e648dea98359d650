"""Demo data: a few dozen scored applications for the demo loan officer.

Applicants are taken from the Home Credit test rows in the data cache (people the model never
saw, with their stored credit history linked through their id), or, without a cache, made up
from a seeded random generator. Each candidate is scored first so the set covers every
outcome; then it is submitted through `application_submit`, exactly as the web form does.
Idempotency keys make a second run add nothing.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from applicants.models import LoanApplication
from applicants.services import submit
from scoring import registry
from scoring.ml.data.load import load_tables
from scoring.ml.schema.records import ASSIGNED_COLUMNS, clean_application
from scoring.ml.schema.tables import DAYS_SENTINEL
from scoring.models import Outcome
from scoring.policy import current_policy, outcome_for

logger = logging.getLogger(__name__)

# Share of each outcome in the demo set; whatever the model gives too few of is filled by
# the others, so the total is always reached when enough candidates exist.
OUTCOME_SHARES = {Outcome.APPROVE: 0.5, Outcome.REFER: 0.33, Outcome.REJECT: 0.17}
CANDIDATES_PER_APPLICATION = 8  # how far to look for the rarer outcomes before giving up
KEY_PREFIX = "demo-seed-"

_FIRST = [
    "Anna",
    "Maria",
    "Elena",
    "Olga",
    "Sofia",
    "Irina",
    "Daria",
    "Laura",
    "Nina",
    "Vera",
    "Petra",
    "Eva",
    "Lucia",
    "Marta",
    "Alina",
    "Dana",
    "Ivan",
    "Pavel",
    "Marek",
    "Tomas",
    "Lukas",
    "Oleg",
    "Artem",
    "Jan",
    "Petr",
    "Adam",
    "Karel",
    "David",
    "Roman",
    "Viktor",
    "Igor",
    "Denis",
]
_LAST = [
    "Novak",
    "Svoboda",
    "Dvorak",
    "Cerny",
    "Prochazka",
    "Kucera",
    "Vesely",
    "Horak",
    "Nemec",
    "Pokorny",
    "Marek",
    "Pospisil",
    "Hajek",
    "Jelinek",
    "Kral",
    "Ruzicka",
    "Benes",
    "Fiala",
    "Sedlacek",
    "Dolezal",
    "Zeman",
    "Kolar",
    "Navratil",
    "Cermak",
]


@dataclass
class SeedReport:
    created: int = 0
    existing: int = 0
    by_outcome: Counter = field(default_factory=Counter)
    source: str = ""


@dataclass(frozen=True)
class _Candidate:
    key: str
    row: dict[str, Any]
    external_id: int | None
    outcome: str


def demo_applications_seed(
    *, officer: AbstractBaseUser, count: int, data_dir: Path, seed: int = 7
) -> SeedReport:
    """Submit `count` applications for `officer` spread over the outcomes; report them.

    Raises `registry.NoActiveModel` when no model is active (nothing could score them).
    """
    if registry.active_model_version() is None:
        raise registry.NoActiveModel("no active model: train and activate one first")
    report = SeedReport()
    seeded = LoanApplication.objects.filter(
        created_by=officer, idempotency_key__startswith=KEY_PREFIX
    ).select_related("decision")
    if seeded.count() >= count:
        # A re-run: the set is there. Scoring hundreds of candidates again only to find each
        # one already submitted took ~15 s of a second `make demo`.
        report.existing = seeded.count()
        report.by_outcome.update(
            app.decision.outcome if hasattr(app, "decision") else app.status for app in seeded
        )
        report.source = "the demo applications already seeded"
        return report
    rows, report.source = _candidate_rows(data_dir, seed)
    policy = current_policy()
    quotas = _quotas(count)
    chosen: list[_Candidate] = []
    spare: list[_Candidate] = []
    for index, (key, row, external_id) in enumerate(rows):
        if len(chosen) >= count or index >= count * CANDIDATES_PER_APPLICATION:
            break
        score = registry.score_record(application_row=row, history=None, external_id=external_id)
        outcome = outcome_for(score.probability_of_default, policy)
        candidate = _Candidate(key, row, external_id, outcome)
        if quotas[outcome] > 0:
            quotas[outcome] -= 1
            chosen.append(candidate)
        else:
            spare.append(candidate)
    chosen += spare[: max(0, count - len(chosen))]

    for candidate in chosen:
        application, created = submit.application_submit(
            actor=officer,
            channel=LoanApplication.Channel.WEB,
            application_row=candidate.row,
            full_name=_name(seed, candidate.key),
            external_id=candidate.external_id,
            idempotency_key=KEY_PREFIX + candidate.key,
        )
        if created:
            report.created += 1
        else:
            report.existing += 1
        application.refresh_from_db()
        decision = getattr(application, "decision", None)
        report.by_outcome[decision.outcome if decision else application.status] += 1
    return report


def _quotas(count: int) -> dict[str, int]:
    quotas = {outcome: int(count * share) for outcome, share in OUTCOME_SHARES.items()}
    quotas[Outcome.APPROVE] += count - sum(quotas.values())
    return quotas


def _name(seed: int, key: str) -> str:
    """A made-up name fixed by the candidate, not by its place in the list: a re-run with
    another --count picks other candidates, and an application already submitted must be
    sent again exactly as it was (its idempotency key would refuse another name)."""
    rng = random.Random(f"{seed}:{key}")
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _candidate_rows(
    data_dir: Path, seed: int
) -> tuple[Iterator[tuple[str, dict[str, Any], int | None]], str]:
    """Candidates the active version accepts: a test row of the cache may lack an input that
    this version requires (it would be refused at the door)."""
    cache = data_dir / "cache"
    if (cache / "cache_manifest.json").is_file():
        rows, source = _rows_from_cache(cache, seed), f"Home Credit test rows in {cache}"
    else:
        rows, source = _made_up_rows(seed), "generated profiles (no data cache found)"
    contract = registry.input_contract()
    return (row for row in rows if not contract.errors(row[1])), source


def _rows_from_cache(cache: Path, seed: int) -> Iterator[tuple[str, dict[str, Any], int | None]]:
    frame = load_tables(cache, tables=["application_test"])["application_test"]
    frame = frame.sample(frac=1.0, random_state=seed)
    for record in frame.to_dict("records"):
        sk_id = int(record["SK_ID_CURR"])
        row = {
            name: _plain(value)
            for name, value in record.items()
            if name not in ASSIGNED_COLUMNS and _plain(value) is not None
        }
        row, errors = clean_application(row)
        if errors:
            logger.info("demo seed skips test row %s: %s", sk_id, errors)
            continue
        yield f"sk{sk_id}", row, sk_id


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as the JSON value a client would send; None for missing."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


#: Population shares of real Home Credit regions (one value per anonymised region).
_REGIONS = (0.035792, 0.04622, 0.025164, 0.026392, 0.028663, 0.030755, 0.031329, 0.020713,
            0.019101, 0.01885, 0.072508, 0.018634, 0.010006, 0.00702, 0.00496)  # fmt: skip


def _made_up_rows(seed: int) -> Iterator[tuple[str, dict[str, Any], int | None]]:
    """Plausible applications spread from strong to weak, for a machine without data."""
    rng = random.Random(seed)
    for index in itertools.count():
        strength = rng.random()
        income = rng.choice([67_500, 90_000, 112_500, 135_000, 180_000, 225_000, 270_000])
        credit = round(income * rng.uniform(1.0, 6.0), -3)
        term_years = rng.choice([5, 10, 15, 20, 25])
        age_days = rng.randint(22 * 365, 68 * 365)
        employed = age_days < 60 * 365 and rng.random() > 0.1
        row = {
            "NAME_CONTRACT_TYPE": "Cash loans" if rng.random() < 0.9 else "Revolving loans",
            "CODE_GENDER": rng.choice(["F", "M"]),
            "FLAG_OWN_CAR": rng.choice(["N", "Y"]),
            "FLAG_OWN_REALTY": rng.choice(["N", "Y"]),
            "CNT_CHILDREN": rng.choice([0, 0, 0, 1, 1, 2, 3]),
            "AMT_INCOME_TOTAL": float(income),
            "AMT_CREDIT": float(credit),
            "AMT_ANNUITY": round(credit / term_years * 1.15, 1),
            "AMT_GOODS_PRICE": round(credit * 0.9, -3),
            "NAME_INCOME_TYPE": (
                "Working" if employed else "Pensioner" if age_days > 55 * 365 else "Unemployed"
            ),
            "NAME_EDUCATION_TYPE": rng.choice(
                ["Secondary / secondary special", "Higher education", "Incomplete higher"]
            ),
            "NAME_FAMILY_STATUS": rng.choice(["Married", "Single / not married", "Civil marriage"]),
            "NAME_HOUSING_TYPE": rng.choice(
                ["House / apartment", "With parents", "Rented apartment"]
            ),
            "DAYS_BIRTH": -age_days,
            "DAYS_EMPLOYED": -rng.randint(60, age_days - 18 * 365) if employed else DAYS_SENTINEL,
            "DAYS_LAST_PHONE_CHANGE": -rng.randint(0, 3000),
            "REGION_POPULATION_RELATIVE": rng.choice(_REGIONS),
            "REGION_RATING_CLIENT": 2,
            "REGION_RATING_CLIENT_W_CITY": 2,
            "FLAG_DOCUMENT_3": int(rng.random() < 0.7),
            "EXT_SOURCE_2": round(min(max(rng.gauss(0.15 + 0.7 * strength, 0.08), 0.01), 0.85), 4),
            "EXT_SOURCE_3": round(min(max(rng.gauss(0.1 + 0.7 * strength, 0.1), 0.01), 0.9), 4),
        }
        if not employed:
            row["ORGANIZATION_TYPE"] = "XNA"
        row["CNT_FAM_MEMBERS"] = float(
            1 + row["CNT_CHILDREN"] + (row["NAME_FAMILY_STATUS"] != "Single / not married")
        )
        row, errors = clean_application(row)
        if not errors:
            yield f"gen{seed}-{index}", row, None
