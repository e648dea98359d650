"""Demo data for fairness audits: enough decisions to judge, officers' reviews, outcomes.

The 36 applications the demo officer submits one by one are too few for any group to reach
the 30 decisions an audit needs, so the demo also uploads one CSV batch of applicants
(`DEMO_BATCH_ROWS` rows from the same source as those 36), scored like any batch. The demo
officer then reviews some of the referrals (a fixed seed picks which, and the direction leans
on the PD as a person's would), and every demo application gets a repayment outcome.

Each demo application gets its outcome from the best source there is, in this order:
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

import csv
import io
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from applicants.demo import KEY_PREFIX, _candidate_rows
from applicants.models import LoanApplication
from applicants.services.batch_intake import EXTERNAL_ID_COLUMN, KNOWN_COLUMNS, batch_create
from applicants.services.outcomes import ImportReport, loan_outcomes_import
from applicants.services.review import OverrideRefused, decision_override_record
from scoring.chunks import batch_decide
from scoring.ml.data.load import load_tables
from scoring.models import BatchJob, Decision, Outcome

DEMO_BATCH_NAME = "demo-fairness-applicants.csv"
DEMO_BATCH_ROWS = 300  # ~30 s to score on two cores; enough for most groups to reach 30
REVIEW_SHARE = 0.5  # of the batch's referrals, reviewed by the demo officer

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
    batch_rows: int = 0
    reviewed: Counter = field(default_factory=Counter)

    def describe(self) -> str:
        words = {Outcome.APPROVE: "approved", Outcome.REJECT: "rejected", "refused": "refused"}
        reviews = ", ".join(f"{n} {words[o]}" for o, n in sorted(self.reviewed.items()))
        parts = [f"batch of {self.batch_rows} applicants" if self.batch_rows else "no new batch"]
        parts.append(f"referrals reviewed: {reviews or 'none'}")
        recorded = self.imported.recorded if self.imported else 0
        sources = ", ".join(f"{n} from {SOURCES[s]}" for s, n in self.by_source.most_common())
        parts.append(f"{recorded} outcomes recorded" + (f" ({sources})" if sources else ""))
        return "; ".join(parts)


def demo_fairness_seed(
    *,
    officer: AbstractBaseUser,
    recorder: AbstractBaseUser,
    data_dir: Path,
    reviewer: AbstractBaseUser | None = None,
    rows: int = DEMO_BATCH_ROWS,
    seed: int = 11,
) -> OutcomeSeedReport:
    """The demo batch (once), `reviewer`'s reviews (default: the officer), then outcomes for
    every demo application without one. A second run adds nothing."""
    report = OutcomeSeedReport()
    report.batch_rows = _batch_seed(officer=officer, data_dir=data_dir, rows=rows, seed=seed)
    report.reviewed = _reviews_seed(officer=officer, reviewer=reviewer or officer, seed=seed)
    _outcomes_seed(report, recorder=recorder, data_dir=data_dir, seed=seed)
    return report


def _demo_applications() -> Any:
    return LoanApplication.objects.filter(
        Q(idempotency_key__startswith=KEY_PREFIX) | Q(batch__filename=DEMO_BATCH_NAME)
    )


def _batch_seed(*, officer: AbstractBaseUser, data_dir: Path, rows: int, seed: int) -> int:
    if rows <= 0 or BatchJob.objects.filter(created_by=officer, filename=DEMO_BATCH_NAME).exists():
        return 0
    # Another shuffle of the same source as the 36, so mostly other applicants.
    candidates, _ = _candidate_rows(data_dir, seed + 1000)
    out = io.StringIO()
    chosen = []
    for _key, row, external_id in candidates:
        chosen.append({**row, EXTERNAL_ID_COLUMN: external_id if external_id is not None else ""})
        if len(chosen) >= rows:
            break
    columns = sorted({c for row in chosen for c in row if c in KNOWN_COLUMNS})
    writer = csv.DictWriter(out, fieldnames=[EXTERNAL_ID_COLUMN, *columns], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(chosen)
    batch = batch_create(actor=officer, filename=DEMO_BATCH_NAME, content=out.getvalue().encode())
    # Score it here and now, so the reviews below find its referrals even where a worker (or
    # an outer transaction) would take it later: chunks are claimed, so nothing runs twice.
    batch_decide(batch_id=batch.pk, task_id=f"demo-seed-batch-{batch.pk}")
    return len(chosen)


def _reviews_seed(*, officer: AbstractBaseUser, reviewer: AbstractBaseUser, seed: int) -> Counter:
    """`reviewer` decides about half of the batch's open referrals: approve when a draw falls
    under the PD's distance from the reject threshold, as a cautious person might. A review
    the rules refuse (e.g. one needing a more senior reviewer) is counted and skipped."""
    reviewed: Counter = Counter()
    referrals = (
        Decision.objects.filter(
            application__batch__filename=DEMO_BATCH_NAME,
            application__created_by=officer,
            outcome=Outcome.REFER,
            override__isnull=True,
        )
        .select_related("policy")
        .order_by("pk")
    )
    for decision in referrals:
        rng = random.Random(f"{seed}:review:{decision.application_id}")
        if rng.random() >= REVIEW_SHARE:
            continue
        policy = decision.policy
        span = max(policy.reject_at_or_above - policy.approve_below, 1e-9)
        lean = (policy.reject_at_or_above - decision.probability_of_default) / span
        outcome = Outcome.APPROVE if rng.random() < lean else Outcome.REJECT
        try:
            decision_override_record(
                decision=decision,
                outcome=outcome,
                justification="Demo review: income and employment documents checked in branch.",
                reviewer=reviewer,
            )
        except OverrideRefused as refusal:
            logger.info("demo review of decision %s refused: %s", decision.pk, refusal)
            reviewed["refused"] += 1
            continue
        reviewed[outcome] += 1
    return reviewed


def _outcomes_seed(
    report: OutcomeSeedReport, *, recorder: AbstractBaseUser, data_dir: Path, seed: int
) -> None:
    """Record an outcome for every decided demo application that has none yet."""
    applications = list(
        _demo_applications()
        .filter(status=LoanApplication.Status.DECIDED, recorded_outcome__isnull=True)
        .select_related("decision", "applicant")
        .order_by("pk")
    )
    if not applications:
        return
    labels = _train_labels(data_dir)
    oracle = _oracle_probabilities(data_dir)
    today = timezone.localdate().isoformat()
    lines = ["application_id,outcome,observed_at"]
    for application in applications:
        external_id = application.applicant.external_id
        draw = random.Random(f"{seed}:outcome:{application.pk}").random()
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
