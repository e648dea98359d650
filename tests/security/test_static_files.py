"""Production static files (probe item 1): the build the Dockerfile runs, then real pages.

`collectstatic` runs under the production settings module, as the image runs it, into a
temporary STATIC_ROOT; the decided application page and the finished batch page are then
rendered with DEBUG off under the production (manifest) storage reading that folder, which is
where a missing manifest entry turns into a 500.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from credscope_site.checks import vendor_files_present
from scoring.models import BatchJob
from tests.conftest import REPO_ROOT
from tests.factories import DecisionFactory

pytestmark = pytest.mark.django_db


def _production_env(static_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(
        DJANGO_SETTINGS_MODULE="credscope_site.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        AUDIT_CHAIN_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="testserver",
        STATIC_ROOT=str(static_root),
    )
    return env


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> tuple[Path, dict]:
    """The production collectstatic after `make vendor`, and the production STORAGES."""
    for name in ("chart.umd.min.js", "chart.umd.min.js.map"):
        if not (REPO_ROOT / "static" / "vendor" / name).exists():
            pytest.fail(f"static/vendor/{name} is missing: run `make vendor` first")
    static_root = tmp_path_factory.mktemp("staticfiles")
    env = _production_env(static_root)
    manage = [sys.executable, "manage.py"]
    build = subprocess.run(
        [*manage, "collectstatic", "--noinput"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    storages = subprocess.run(
        [*manage, "shell", "-c",
         "import json; from django.conf import settings; print(json.dumps(settings.STORAGES))"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return static_root, json.loads(storages.stdout.strip().splitlines()[-1])


def test_collectstatic_hashes_chart_js_and_its_source_map(collected) -> None:
    static_root, storages = collected
    assert storages["staticfiles"]["BACKEND"].endswith("ManifestStaticFilesStorage")
    paths = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    script = paths["vendor/chart.umd.min.js"]
    source_map = paths["vendor/chart.umd.min.js.map"]
    assert script != "vendor/chart.umd.min.js" and (static_root / script).exists()
    # The script's sourceMappingURL now names the hashed map, which exists.
    body = (static_root / script).read_text()
    assert f"sourceMappingURL={Path(source_map).name}" in body
    assert (static_root / source_map).exists()


def _production_pages(collected):
    static_root, storages = collected
    return override_settings(DEBUG=False, STATIC_ROOT=static_root, STORAGES=storages)


def test_a_decided_application_page_renders_under_production_storage(
    client, officer, collected
) -> None:
    static_root, _ = collected
    decision = DecisionFactory(application__created_by=officer, outcome="REFER")
    client.force_login(officer)
    with _production_pages(collected):
        response = client.get(reverse("applicants:detail", args=[decision.application_id]))
    assert response.status_code == 200
    html = response.content.decode()
    chart = re.search(r'src="/static/(vendor/chart\.umd\.min\.[0-9a-f]{12}\.js)"', html)
    assert chart, "the page links the hashed Chart.js"
    assert (static_root / chart.group(1)).exists()
    page_script = re.search(r'src="/static/(js/application\.[0-9a-f]{12}\.js)"', html)
    assert page_script and (static_root / page_script.group(1)).exists()


def test_a_finished_batch_page_renders_under_production_storage(client, officer, collected) -> None:
    batch = BatchJob.objects.create(
        created_by=officer, filename="march.csv", status="done", total_rows=1
    )
    DecisionFactory(
        application__created_by=officer, application__batch=batch, application__batch_row=1
    )
    client.force_login(officer)
    with _production_pages(collected):
        response = client.get(reverse("applicants:batch_detail", args=[batch.pk]))
    assert response.status_code == 200
    assert re.search(r'src="/static/vendor/chart\.umd\.min\.[0-9a-f]{12}\.js"', response.text)


def test_the_build_refuses_to_run_without_chart_js() -> None:
    with override_settings(CREDSCOPE_VENDOR_FILES=["vendor/not-built.js"]):
        errors = vendor_files_present()
    assert [e.id for e in errors] == ["credscope.E001"]
    assert "static/vendor/not-built.js is missing" in errors[0].msg
    assert "make vendor" in errors[0].hint
    assert vendor_files_present() == []  # after `make vendor`, the real files are found
