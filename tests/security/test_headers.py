"""Headers (probe item 7): a Content-Security-Policy without inline script or style,
no-store on everything carrying personal data, and sessions that end when left idle."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from scoring.models import BatchJob
from tests.conftest import REPO_ROOT
from tests.factories import DEFAULT_PASSWORD, DecisionFactory

pytestmark = pytest.mark.django_db


# --- Content-Security-Policy ---------------------------------------------------------------------


class _InlineFinder(HTMLParser):
    """Inline code in a template: a <script> without src (other than json_script data), a
    <style> element, a style="" attribute or an on...="" handler."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")


#: Print documents WeasyPrint renders to PDF carry their CSS inline (it resolves no URLs);
#: they hold no script, and the notice's HTML view lets only its own styles through.
PRINT_DOCUMENTS = {
    "templates/applicants/adverse_action_notice.html",
    "templates/audits/fairness_report.html",
}


def test_no_template_has_inline_script_or_style() -> None:
    offenders = {}
    for template in sorted((REPO_ROOT / "templates").rglob("*.html")):
        if str(template.relative_to(REPO_ROOT)) in PRINT_DOCUMENTS:
            finder = _InlineFinder()
            finder.feed(template.read_text())
            assert set(finder.found) <= {"<style>"}, template  # styles only, never a script
            continue
        finder = _InlineFinder()
        finder.feed(template.read_text())
        if finder.found:
            offenders[str(template.relative_to(REPO_ROOT))] = finder.found
    assert not offenders, offenders


def test_every_page_carries_the_policy(client, officer) -> None:
    client.force_login(officer)
    for url in (reverse("dashboard"), reverse("applicants:list"), reverse("login")):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
        )
        assert directives["script-src"] == ["'self'"]
        assert directives["style-src"] == ["'self'"]
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy


def test_the_swagger_ui_loads_its_start_up_script_as_a_file(client) -> None:
    html = client.get("/api/docs/").text
    scripts = [line for line in html.splitlines() if "<script" in line]
    assert scripts and all("src=" in line for line in scripts)
    start_up = client.get("/api/docs/?script=")
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in start_up.text


# --- no-store ---------------------------------------------------------------------------------


def _no_store(response) -> bool:
    return "no-store" in response["Cache-Control"].split(", ")


def test_pages_api_answers_and_csv_files_are_never_stored(client, officer) -> None:
    decision = DecisionFactory(application__created_by=officer)
    batch = BatchJob.objects.create(created_by=officer, filename="b.csv", status="done")
    client.force_login(officer)
    for url in (
        reverse("dashboard"),
        reverse("applicants:list"),
        reverse("applicants:detail", args=[decision.application_id]),
        reverse("applicants:batch_detail", args=[batch.pk]),
        reverse("applicants:batch_results", args=[batch.pk]),
        reverse("applicants:batch_template"),
        reverse("login"),
        "/applications/999999/",  # a 404 too
    ):
        response = client.get(url)
        assert _no_store(response), (url, response.status_code, response["Cache-Control"])
    api = APIClient()
    token = api.post("/api/v1/auth/token/", {"username": "officer", "password": DEFAULT_PASSWORD})
    assert _no_store(token)  # the token itself is in this body
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    for url in (
        "/api/v1/applications/",
        f"/api/v1/applications/{decision.application_id}/",
        f"/api/v1/batches/{batch.pk}/results.csv",
        "/api/v1/applications/999999/",
    ):
        response = api.get(url)
        assert _no_store(response), (url, response.status_code)


# --- idle sessions ------------------------------------------------------------------------------


def test_a_session_ends_after_thirty_idle_minutes_and_each_request_extends_it(
    client, officer, settings
) -> None:
    assert settings.SESSION_IDLE_TIMEOUT_MINUTES == 30 and settings.SESSION_COOKIE_AGE == 1800
    response = client.post(reverse("login"), {"username": "officer", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    session = Session.objects.get(session_key=client.session.session_key)
    assert abs((session.expire_date - timezone.now()) - timedelta(minutes=30)) < timedelta(
        seconds=30
    )
    # 20 minutes later the officer works again: the session now runs 30 minutes from then.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + timedelta(minutes=10))
    assert client.get(reverse("dashboard")).status_code == 200
    session.refresh_from_db()
    assert session.expire_date - timezone.now() > timedelta(minutes=29)
    # Then 30 minutes pass with nothing done: the next request goes to the sign-in page.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
