"""Demo accounts: one user per role, for trying CredScope on one machine."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from audits import trail
from audits.actions import AuditAction
from credscope_site.roles import Role

DEMO_USERNAMES: dict[Role, str] = {
    Role.LOAN_OFFICER: "officer",
    Role.COMPLIANCE: "compliance",
    Role.MODEL_ADMIN: "modeladmin",
    Role.CREDIT_REVIEWER: "reviewer",
    Role.SENIOR_CREDIT_REVIEWER: "senior",
}


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role


@transaction.atomic
def demo_users_ensure(*, credentials_file: Path) -> list[DemoAccount]:
    """Create (or reset) the demo users; passwords are random once per machine, kept in var/."""
    passwords = _stored_passwords(credentials_file)
    user_model = get_user_model()
    accounts, created = [], []
    for role, username in DEMO_USERNAMES.items():
        password = passwords.setdefault(username, secrets.token_urlsafe(9))
        user, was_created = user_model.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_active = True
        user.save()
        user.groups.set([Group.objects.get(name=role.value)])
        accounts.append(DemoAccount(username=username, password=password, role=role))
        if was_created:
            created.append(username)
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(json.dumps(passwords, indent=2))
    credentials_file.chmod(0o600)
    if created:
        trail.record(action=AuditAction.DEMO_USERS_CREATED, payload={"usernames": created})
    return accounts


def _stored_passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return json.loads(path.read_text())
