"""Numbers and times for people: currency, grouping, percentages, the named time zone."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from credscope_site import formatting
from scoring.band_guide import band_guide
from scoring.models import RiskBand
from scoring.policy import current_policy, outcome_for
from tests.conftest import REPO_ROOT
from tests.factories import DecisionFactory


def test_amounts_carry_the_configured_currency_with_grouping(settings) -> None:
    settings.CREDSCOPE_CURRENCY = "CZK"
    assert formatting.money(Decimal("1234567.60")) == "CZK\u00a01,234,568"
    assert formatting.money(None) == "\u2014"


def test_times_are_shown_in_the_configured_zone_with_its_name(settings) -> None:
    moment = datetime(2026, 12, 3, 13, 5, 9, tzinfo=UTC)
    settings.TIME_ZONE = "Europe/Prague"
    with timezone.override("Europe/Prague"):
        assert formatting.when(moment) == "2026-12-03 14:05 CET"
        assert formatting.when(moment, seconds=True) == "2026-12-03 14:05:09 CET"
    with timezone.override("UTC"):
        assert formatting.when(moment) == "2026-12-03 13:05 UTC"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CREDSCOPE_CURRENCY", "euro", "CREDSCOPE_CURRENCY must be a three-letter ISO 4217 code"),
        ("TIME_ZONE", "Mars/Olympus", "TIME_ZONE must be an IANA time zone"),
    ],
)
def test_a_bad_currency_or_zone_stops_start_up_naming_the_variable(variable, value, message):
    env = {**os.environ, variable: value, "DJANGO_SETTINGS_MODULE": "credscope_site.settings.local"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_medium_can_be_approve_or_refer_under_the_default_policy(db) -> None:
    policy = current_policy()
    rows = {row.band: row for row in band_guide(policy)}
    assert [row.band for row in band_guide(policy)] == list(RiskBand)
    for band, row in rows.items():
        # Each outcome listed is reachable by some PD in the band, and no other outcome is.
        samples = [row.lower + (row.upper - row.lower) * k / 200 for k in range(200)]
        reachable = {outcome_for(pd, policy) for pd in samples}
        assert reachable == set(row.outcomes), band
    assert any(row.mixed for row in rows.values())


@pytest.mark.django_db
def test_list_shows_currency_named_zone_and_the_band_guide(client, officer, settings) -> None:
    settings.CREDSCOPE_CURRENCY = "EUR"
    decision = DecisionFactory(
        application__created_by=officer, application__amt_credit=Decimal("450000")
    )
    client.force_login(officer)
    body = client.get(reverse("applicants:list")).content.decode()
    assert "EUR\u00a0450,000" in body
    assert formatting.when(decision.application.submitted_at) in body
    assert body.count(" UTC") >= 1
    assert "Risk band or outcome? How they relate" in body
    for row in band_guide(current_policy()):
        labels = " or ".join(
            f'<span class="badge outcome-{o.lower()}">{o.label}</span>' for o in row.outcomes
        )
        assert labels in body


@pytest.mark.django_db
def test_the_decision_page_says_what_the_band_means_beside_the_outcome(client, officer) -> None:
    decision = DecisionFactory(application__created_by=officer)
    client.force_login(officer)
    body = client.get(reverse("applicants:detail", args=[decision.application_id])).content
    assert b'id="band-note"' in body and b"the outcome follows the thresholds below" in body
    assert b"approve below 8.0%, reject from 25.0%" in body
