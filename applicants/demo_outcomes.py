"""Demo data: repayment outcomes for the demo's seeded applications, so a fairness audit of
the demo has outcome metrics to show.

Each seeded application gets its outcome from the best source there is, in this order:
1. its applicant's TARGET in the data cache's application_train (a generator's label);
2. a draw from the generator's true default probability for that applicant
   (`synth/oracle/oracle.parquet`, written by `generate_homecredit`), since the demo seeds
   application_test rows, which carry no label;
3. a draw from the decision's own PD, where neither is known (made-up profiles).
Draws use a seeded generator per application, so a re-run gives the same outcomes; the
report says how many came from each source. Outcomes go through `loan_outcomes_import`,
like a compliance user's CSV, and are audited the same way.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from applicants.demo import KEY_PREFIX
from applicants.models import LoanApplication
from applicants.outcomes import ImportReport, loan_outcomes_import
from scoring.ml.data import load_tables

logger = logging.getLogger(__name__)

SOURCES = {
    "label": "TARGET labels in the data cache",
    "oracle": "draws from the generator's true default probability",
    "pd": "draws from the decision's PD",
}


@dataclass
class OutcomeSeedReport:
    by_source: Counter = field(default_factory=Counter)
    imported: ImportReport | None = None

    def describe(self) -> str:
        if not self.by_source:
            return "no seeded application was waiting for an outcome"
        parts = [f"{n} from {SOURCES[source]}" for source, n in self.by_source.most_common()]
        return "; ".join(parts)


def demo_outcomes_seed(
    *, recorder: AbstractBaseUser, data_dir: Path, seed: int = 11
) -> OutcomeSeedReport:
    """Record an outcome for every seeded, decided application that has none yet."""
    report = OutcomeSeedReport()
    applications = list(
        LoanApplication.objects.filter(
            idempotency_key__startswith=KEY_PREFIX,
            status=LoanApplication.Status.DECIDED,
            recorded_outcome__isnull=True,
        )
        .select_related("decision", "applicant")
        .order_by("pk")
    )
    if not applications:
        return report
    labels = _train_labels(data_dir)
    oracle = _oracle_probabilities(data_dir)
    today = timezone.localdate().isoformat()
    lines = ["application_id,outcome,observed_at"]
    for application in applications:
        external_id = application.applicant.external_id
        draw = random.Random(f"{seed}:{application.idempotency_key}").random()
        if external_id in labels:
            defaulted, source = labels[external_id] == 1, "label"
        elif external_id in oracle:
            defaulted, source = draw < oracle[external_id], "oracle"
        else:
            defaulted, source = draw < application.decision.probability_of_default, "pd"
        report.by_source[source] += 1
        lines.append(f"{application.pk},{'defaulted' if defaulted else 'repaid'},{today}")
    report.imported = loan_outcomes_import(
        csv_text="\n".join(lines) + "\n", filename="demo-seed-outcomes.csv", actor=recorder
    )
    return report


def _train_labels(data_dir: Path) -> dict[int, int]:
    cache = data_dir / "cache"
    if not (cache / "cache_manifest.json").is_file():
        return {}
    frame = load_tables(cache, tables=["application_train"])["application_train"]
    return dict(zip(frame["SK_ID_CURR"].astype(int), frame["TARGET"].astype(int), strict=True))


def _oracle_probabilities(data_dir: Path) -> dict[int, float]:
    path = data_dir / "synth" / "oracle" / "oracle.parquet"
    if not path.is_file():
        return {}
    table = pq.read_table(path, columns=["SK_ID_CURR", "p_default"]).to_pydict()
    return dict(zip(table["SK_ID_CURR"], table["p_default"], strict=True))
