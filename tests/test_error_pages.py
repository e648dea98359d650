"""Pages people land on by mistake: friendly 404, 403, 400 and 500 pages; the demo; the icon."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import reverse

from applicants import selectors
from tests.conftest import REPO_ROOT
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
        if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "credscope_site.settings.demo"
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
    assert "serve_demo --settings=$(DEMO_SETTINGS)" in makefile
    assert "DEMO_SETTINGS := credscope_site.settings.demo" in makefile
