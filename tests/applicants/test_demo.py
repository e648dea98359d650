"""`manage.py seed_demo_applications`: scored demo applications, and a second run adds none."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from applicants.models import LoanApplication
from scoring import registry

pytestmark = pytest.mark.django_db


def test_without_an_active_model_the_command_says_what_to_do(officer) -> None:
    with pytest.raises(CommandError, match="no active model"):
        call_command("seed_demo_applications", "--username", "officer")
    assert not LoanApplication.objects.exists()


def test_an_unknown_user_is_an_error() -> None:
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("seed_demo_applications", "--username", "nobody")


def test_seeds_scored_applications_once(
    officer,
    trained_model,
    settings,
    tmp_path,
    capsys,
    django_capture_on_commit_callbacks,
    monkeypatch,
) -> None:
    settings.CREDSCOPE_DATA_DIR = tmp_path  # no data cache: generated profiles
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo_applications", "--username", "officer", "--count", "6")
    applications = LoanApplication.objects.filter(created_by=officer)
    assert applications.count() == 6
    assert set(applications.values_list("status", flat=True)) == {"DECIDED"}
    assert "6 new" in capsys.readouterr().out

    def no_scoring(**kwargs):
        raise AssertionError("a re-run scored candidates again")

    # A re-run finds the set complete before scoring a single candidate (it took ~15 s).
    monkeypatch.setattr(registry, "score_record", no_scoring)
    call_command("seed_demo_applications", "--username", "officer", "--count", "6")
    assert LoanApplication.objects.count() == 6
    out = capsys.readouterr().out
    assert "0 new, 6 already there" in out
    outcomes = Counter(applications.values_list("decision__outcome", flat=True))
    for outcome, n in outcomes.items():
        assert f"{n} {outcome.lower()}" in out


def test_a_larger_count_adds_to_the_set_without_an_idempotency_conflict(
    officer, trained_model, settings, tmp_path, capsys, django_capture_on_commit_callbacks
) -> None:
    settings.CREDSCOPE_DATA_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo_applications", "--username", "officer", "--count", "4")
    names = dict(LoanApplication.objects.values_list("idempotency_key", "applicant__full_name"))
    capsys.readouterr()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo_applications", "--username", "officer", "--count", "9")
    applications = LoanApplication.objects.filter(created_by=officer)
    assert applications.count() == 9
    # The first four keep their names: a re-sent application is the same application.
    assert {k: v for k, v in applications.values_list("idempotency_key", "applicant__full_name")
            if k in names} == names  # fmt: skip
