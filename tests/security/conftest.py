"""Fixtures shared with other test packages: the browser (tests/e2e) and pointing task
sending at a worker queue (tests/scoring)."""

from tests.e2e.conftest import browser, chromium, hosts, new_page  # noqa: F401
from tests.scoring.test_worker_resilience import sending_to  # noqa: F401
