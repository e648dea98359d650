"""The browser fixtures of tests/e2e, for the security checks that need a real browser."""

from tests.e2e.conftest import browser, chromium, hosts, new_page  # noqa: F401
