"""Pages people land on by mistake: friendly 404, 403, 400 and 500 pages; the demo; the icon."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from applicants import selectors
from tests.conftest import REPO_ROOT, database_url_of_test_db
from tests.factories import LoanApplicationFactory

pytestmark = pytest.mark.django_db

TECHNICAL_PAGE_MARKERS = ("URLconf", "Django tried these URL patterns", "Traceback", "DEBUG = True")


def assert_friendly(response, code: int, heading: str) -> str:
    body = response.content.decode()
    assert response.status_code == code
    assert f'data-error="{code}"' in body
    assert heading in body
    assert "favicon.svg" in body  # the site's own layout, not a bare page
    for marker in TECHNICAL_PAGE_MARKERS:
        assert marker not in body
    return body


def test_officer_opening_another_officers_application_gets_the_friendly_404(
    client, officer, other_officer
) -> None:
    theirs = LoanApplicationFactory(created_by=other_officer)
    client.force_login(officer)
    response = client.get(reverse("applicants:detail", args=[theirs.pk]))
    body = assert_friendly(response, 404, "Page not found")
    assert "only the applications and batches they submitted" in body
    assert reverse("applicants:list") in body  # a way on, for someone allowed the list
    assert theirs.applicant.full_name not in body


def test_mistyped_address_gets_the_friendly_404_with_navigation(client, officer) -> None:
    client.force_login(officer)
    body = assert_friendly(client.get("/applicatons/"), 404, "Page not found")
    assert 'class="mainnav"' in body


def test_anonymous_404_offers_sign_in(client) -> None:
    body = assert_friendly(client.get("/no-such-page/"), 404, "Page not found")
    assert reverse("login") in body


def test_role_without_access_gets_the_friendly_403_naming_their_role(client, compliance) -> None:
    client.force_login(compliance)
    body = assert_friendly(client.get(reverse("applicants:new")), 403, "Not allowed")
    assert "Compliance" in body


def test_expired_form_gets_the_friendly_csrf_page(officer) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)
    response = client.post(reverse("applicants:new"), {"full_name": "x"})
    assert_friendly(response, 403, "This form has expired")


def test_server_error_gets_the_friendly_500(officer, monkeypatch) -> None:
    def broken(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(selectors, "application_list_for", broken)
    client = Client(raise_request_exception=False)
    client.force_login(officer)
    body = assert_friendly(client.get(reverse("applicants:list")), 500, "Something went wrong")
    assert "database on fire" not in body


def test_favicon_is_linked_and_served(client, officer) -> None:
    client.force_login(officer)
    page = client.get(reverse("dashboard")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert (REPO_ROOT / "static" / "favicon.svg").read_text().startswith("<svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    # Asked for by browsers before anyone signs in.
    assert Client().get("/favicon.ico").status_code == 301


def test_demo_settings_turn_debug_off_so_mistakes_get_the_friendly_pages(tmp_path) -> None:
    """`make demo` serves with these settings; a technical 404 lists every URL pattern."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DEBUG", "SECRET_KEY", "AUDIT_CHAIN_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "credscope_site.settings.demo"
    # What the demo inherits when manage.py or runserver's reloader loaded the local settings
    # first: DEBUG=true in the environment. The demo must still answer with DEBUG off.
    env["DEBUG"] = "true"
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, bool(s.SECRET_KEY), s.WHITENOISE_USE_FINDERS, s.ALLOWED_HOSTS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=3) == [
        "False",
        "True",
        "True",
        "['127.0.0.1', 'localhost']\n",
    ]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "DJANGO_SETTINGS_MODULE=$(DEMO_SETTINGS)" in makefile and "serve_demo" in makefile
    assert "DEMO_SETTINGS := credscope_site.settings.demo" in makefile


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_demo_server_as_make_demo_starts_it_answers_with_the_friendly_404() -> None:
    """`manage.py serve_demo` the way the Makefile runs it, reloader and all: a mistyped
    address gets the portal's 404 page, and the banner ends with where to sign in."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{settings_dict['NAME']}"
    else:
        database_url = database_url_of_test_db()
    port = _free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"SECRET_KEY", "AUDIT_CHAIN_KEY", "ALLOWED_HOSTS"}
        },
        "DJANGO_SETTINGS_MODULE": "credscope_site.settings.demo",
        "DJANGO_RUNSERVER_HIDE_WARNING": "true",
        "DATABASE_URL": database_url,
        "DEBUG": "true",  # inherited from an earlier local-settings process: must not win
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve_demo", f"127.0.0.1:{port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the reloader's child goes with it
    )
    try:
        deadline = time.monotonic() + 90
        body, status = "", 0
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=5):
                    pass
            except urllib.error.HTTPError as error:
                status, body = error.code, error.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert status == 404, "the demo server did not answer"
        assert 'data-error="404"' in body
        for marker in TECHNICAL_PAGE_MARKERS:
            assert marker not in body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "using settings 'credscope_site.settings.demo'" in output
    assert f"CredScope is at http://127.0.0.1:{port}/" in output
    assert "var/demo-credentials.json" in output
    assert "WARNING: This is a development server" not in output
