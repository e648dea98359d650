"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
live server. No browser is ever downloaded; every request must stay on the live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO_ROOT, missing
from tests.factories import DEFAULT_PASSWORD

CHROMIUM = Path(os.environ.get("CREDSCOPE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        missing(
            f"the browser tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install chromium; .ci/run does it)"
        )
    return CHROMIUM


@pytest.fixture
def browser(chromium, transactional_db, live_server) -> Iterator:
    """A headless Chromium for one test, started after the test database is set up and
    stopped before it is flushed.

    While Playwright's sync API runs, its event loop makes Django hand this thread other
    database connections (they are context-local under a running loop). Starting it per test,
    after the database fixtures, keeps their setup and teardown on the usual connection; the
    connections opened meanwhile are closed before the loop stops.
    """
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    # The tests' own ORM calls are synchronous; Django's guard sees Playwright's loop.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield launched
            finally:
                launched.close()
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class Hosts:
    """Every host the pages asked for, to prove nothing leaves the server."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def record(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss"):
            self.seen.add(parts.netloc)


@pytest.fixture
def hosts(live_server) -> Iterator[Hosts]:
    tracker = Hosts()
    yield tracker
    server = urlsplit(live_server.url).netloc
    assert tracker.seen <= {server}, f"requests left the server: {tracker.seen - {server}}"


@pytest.fixture
def new_page(browser, hosts, live_server):
    """A factory of pages, each in its own browser context (its own session cookies).

    Every page is watched for Content-Security-Policy violations (Chromium reports each as a
    console error): a page that needs an inline script or style fails the test using it."""
    contexts = []
    violations: list[str] = []

    def watch(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def make(viewport: dict[str, int] = LAPTOP):
        context = browser.new_context(
            viewport=viewport, base_url=live_server.url, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("request", hosts.record)
        page.on("console", watch)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not violations, "\n".join(violations)


def sign_in(page, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
