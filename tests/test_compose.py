"""No Docker engine runs here, so the compose file is checked by reading it."""

from __future__ import annotations

import importlib
import re
import shlex

import yaml

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def command_of(name: str) -> list[str]:
    command = SERVICES[name]["command"]
    return command if isinstance(command, list) else shlex.split(command)


def test_the_five_services_exist_with_health_checks() -> None:
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert name in SERVICES, name
        assert SERVICES[name]["healthcheck"]["test"], name


def test_state_lives_in_named_volumes() -> None:
    named = set(COMPOSE["volumes"])
    for name in ("postgres", "redis", "web", "worker", "beat"):
        for volume in SERVICES[name].get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                # Configuration from the repository, never state: read-only, and it exists.
                assert volume.endswith(":ro"), f"{name} mounts {source} writable"
                assert (REPO_ROOT / source).is_file(), source
                continue
            assert source in named, f"{name} mounts {source}, which is not a named volume"
    assert {"pgdata", "redisdata", "models", "audit-checkpoints"} <= named


def read_env_example(name: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in (REPO_ROOT / name).read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_the_app_connects_as_the_runtime_role_and_only_migrate_as_the_owner() -> None:
    app, db = read_env_example(".env.example"), read_env_example(".env.db.example")
    assert app["DATABASE_URL"].startswith("postgres://credscope_app:")
    assert "DATABASE_URL_MIGRATE" not in app and "POSTGRES_PASSWORD" not in app
    assert db["DATABASE_URL_MIGRATE"].startswith("postgres://credscope_owner:")
    assert app["DATABASE_URL"].rsplit("@", 1)[1] == db["DATABASE_URL_MIGRATE"].rsplit("@", 1)[1]
    assert SERVICES["postgres"]["env_file"] == ".env.db"
    assert SERVICES["migrate"]["env_file"] == [".env", ".env.db"]
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["env_file"] == ".env", name
    init = [v for v in SERVICES["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init == [
        "./deploy/postgres/initdb.sh:/docker-entrypoint-initdb.d/10-credscope-roles.sh:ro"
    ]
    script = (REPO_ROOT / "deploy" / "postgres" / "initdb.sh").read_text()
    assert "-f /credscope-db/roles.sql" in script
    assert (
        "./deploy/postgres/roles.sql:/credscope-db/roles.sql:ro" in SERVICES["postgres"]["volumes"]
    )


def test_web_worker_and_beat_share_image_and_settings() -> None:
    app_services = [SERVICES[n] for n in ("web", "worker", "beat", "migrate")]
    assert len({s["image"] for s in app_services}) == 1
    assert all(".env" in s["env_file"] for s in app_services)
    example = read_env_example(".env.example")
    for variable in (
        "DJANGO_SETTINGS_MODULE",
        "SECRET_KEY",
        "AUDIT_CHAIN_KEY",
        "DATABASE_URL",
        "REDIS_URL",
    ):
        assert example.get(variable), variable
    settings_module = example["DJANGO_SETTINGS_MODULE"]
    assert importlib.util.find_spec(settings_module) is not None
    assert example["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:" in example["DATABASE_URL"] and "//redis:" in example["REDIS_URL"]


def test_commands_point_at_real_modules() -> None:
    web = command_of("web")
    assert web[0] == "gunicorn"
    module, attribute = web[1].split(":")
    assert module == "credscope_site.wsgi" and attribute == "application"
    assert (REPO_ROOT / "credscope_site" / "wsgi.py").exists()
    assert "application =" in (REPO_ROOT / "credscope_site" / "wsgi.py").read_text()
    for name, program in (("worker", "worker"), ("beat", "beat")):
        command = command_of(name)
        assert command[:3] == ["celery", "-A", "credscope_site"] and command[3] == program
    from credscope_site.celery import app

    assert app.main == "credscope"
    assert command_of("migrate") == ["python", "manage.py", "migrate", "--noinput"]


def test_the_dockerfile_installs_the_pinned_requirements() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert "pip install -r requirements.txt" in dockerfile
    assert "credscope_site.wsgi:application" in dockerfile
