import pytest
from django.core.management import call_command
from django.urls import reverse

from audits.actions import AuditAction
from audits.models import AuditEvent


@pytest.mark.django_db
def test_demo_users_one_per_role_with_stable_passwords(client, settings, tmp_path, capsys):
    settings.VAR_DIR, settings.DEBUG = tmp_path, True
    call_command("create_demo_users")
    printed = capsys.readouterr().out
    call_command("create_demo_users")
    assert capsys.readouterr().out == printed  # same passwords on every run
    rows = [line.split() for line in printed.splitlines()[1:]]
    assert [row[0] for row in rows] == ["officer", "compliance", "modeladmin", "reviewer", "senior"]
    for username, password, *_ in rows:
        assert client.login(username=username, password=password)
    assert AuditEvent.objects.filter(action=AuditAction.DEMO_USERS_CREATED).count() == 1
    client.login(username="compliance", password=rows[1][1])
    assert client.get(reverse("audits:trail")).status_code == 200


@pytest.mark.django_db
def test_demo_users_refused_when_debug_is_off(settings) -> None:
    from django.core.management import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("create_demo_users")
