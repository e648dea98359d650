"""The image (probe items 1 and 5), checked by parsing, since no Docker engine runs here.

The Dockerfile is read into its instructions by `dockerfile-parse`; the build context is
decided by reading `.dockerignore` with `pathspec`'s gitwildmatch rules (the rules are written
so Docker's matcher means the same: patterns are rooted, directories end in `/`).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field

import pathspec
import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import REPO_ROOT


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for kind, value in self.instructions if kind == instruction]


def stages() -> list[Stage]:
    parsed = DockerfileParser(str(REPO_ROOT / "Dockerfile"))
    out: list[Stage] = []
    for item in parsed.structure:
        kind, value = item["instruction"], item["value"]
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            out.append(Stage(image=words[0], name=name))
        elif kind != "COMMENT":
            out[-1].instructions.append((kind, value))
    return out


def test_a_node_stage_builds_chart_js_into_static_vendor() -> None:
    assets = stages()[0]
    assert assets.image.startswith("node:") and assets.name == "assets"
    copies = [shlex.split(value) for value in assets.values("COPY")]
    assert ["package.json", "package-lock.json", "./"] in copies  # the lock file pins Chart.js
    runs = " ".join(assets.values("RUN"))
    assert "npm ci" in runs  # the lock file, never a floating `npm install`
    for name in ("chart.umd.min.js", "chart.umd.min.js.map"):
        assert f"node_modules/chart.js/dist/{name}" in runs, name
    assert "static/vendor" in runs


def test_the_app_stage_takes_chart_js_from_the_node_stage_then_collects_static() -> None:
    all_stages = stages()
    assert len(all_stages) == 2
    app = all_stages[-1]
    assert app.image.startswith("python:3.11")
    order = [kind + " " + value for kind, value in app.instructions]
    pip = order.index("RUN pip install -r requirements.txt")
    code = order.index("COPY . .")
    vendor = next(i for i, line in enumerate(order) if line.startswith("COPY --from=assets "))
    collect = next(i for i, line in enumerate(order) if "manage.py collectstatic" in line)
    assert pip < code < vendor < collect  # the vendor copy lands after the code, before collect
    source, target = shlex.split(order[vendor])[2:]
    assert source.endswith("static/vendor/") and target == "/app/static/vendor/"
    env = " ".join(app.values("ENV"))
    assert "DJANGO_SETTINGS_MODULE=credscope_site.settings.production" in env
    user = app.values("USER")
    assert user and user[-1] not in ("root", "0")
    assert order.index(f"USER {user[-1]}") > collect
    command = json.loads(app.values("CMD")[-1])
    assert command[:2] == ["gunicorn", "credscope_site.wsgi:application"]


# --- the build context ------------------------------------------------------------------------


def ignore_rules() -> pathspec.PathSpec:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        ".env.db",
        "var/secret_key",
        "var/demo-credentials.json",
        "var/credscope.sqlite3",
        "var/data/cache/cache_manifest.json",
        "var/data/synth/application_train.csv",
        "var/models/20261202-102930-775396e9/manifest.json",
        ".venv/bin/python",
        ".venv/lib/python3.11/site-packages/django/__init__.py",
        "node_modules/chart.js/dist/chart.umd.min.js",
        ".git/config",
        "scoring/__pycache__/models.cpython-311.pyc",
    ],
)
def test_secrets_and_local_state_stay_out_of_the_build_context(path: str) -> None:
    assert ignore_rules().match_file(path), f"{path} would be sent to the Docker daemon"


def test_every_tracked_file_the_image_needs_is_in_the_build_context() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    rules = ignore_rules()
    needed = [p for p in tracked if not p.startswith(".ci/")]
    left_out = [p for p in needed if rules.match_file(p)]
    assert not left_out, left_out
    for path in ("manage.py", "requirements.txt", "package-lock.json", "templates/base.html"):
        assert path in needed and not rules.match_file(path)
