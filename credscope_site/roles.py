"""The roles and what each may do, named once.

Groups are created and kept in step by data migrations that call `sync_role_groups`: the
first in this package, and one in each app whose migration adds permissions a role needs.
A test checks every role ends up with exactly the permissions listed here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import models


class Role(models.TextChoices):
    LOAN_OFFICER = "loan_officer", "Loan officer"
    COMPLIANCE = "compliance", "Compliance"
    MODEL_ADMIN = "model_admin", "Model admin"
    # Four eyes: overrides come from people other than the officer who submitted.
    CREDIT_REVIEWER = "credit_reviewer", "Credit reviewer"
    SENIOR_CREDIT_REVIEWER = "senior_credit_reviewer", "Senior credit reviewer"


class Perm:
    """Permission names as `has_perm` takes them."""

    VIEW_AUDIT_TRAIL = "audits.view_auditevent"
    SUBMIT_APPLICATION = "applicants.add_loanapplication"
    VIEW_OWN_APPLICATIONS = "applicants.view_loanapplication"
    VIEW_ALL_APPLICATIONS = "applicants.view_all_loanapplications"
    # The review permission: override a decision awaiting review (never one's own).
    OVERRIDE_DECISION = "scoring.add_decisionoverride"
    # Needed too for overrides of a model REJECT into APPROVE, or above the senior PD.
    SENIOR_OVERRIDE = "scoring.override_high_risk"
    VIEW_OVERRIDE_REPORT = "scoring.view_decisionoverride"
    SUBMIT_BATCH = "scoring.add_batchjob"
    VIEW_BATCHES = "scoring.view_batchjob"
    VIEW_MODELS = "scoring.view_modelversion"
    TRAIN_MODEL = "scoring.add_modelversion"
    ACTIVATE_MODEL = "scoring.activate_modelversion"
    VIEW_POLICY = "scoring.view_decisionpolicy"
    CHANGE_POLICY = "scoring.add_decisionpolicy"
    RECORD_OUTCOME = "applicants.add_loanoutcome"
    VIEW_FAIRNESS_AUDITS = "audits.view_fairnessaudit"
    RUN_FAIRNESS_AUDIT = "audits.add_fairnessaudit"
    SIGN_OFF_FAIRNESS_AUDIT = "audits.sign_off_fairnessaudit"


ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.LOAN_OFFICER: frozenset(
        {
            Perm.SUBMIT_APPLICATION,
            Perm.VIEW_OWN_APPLICATIONS,
            Perm.SUBMIT_BATCH,
            Perm.VIEW_BATCHES,
        }
    ),
    Role.COMPLIANCE: frozenset(
        {
            Perm.VIEW_AUDIT_TRAIL,
            Perm.VIEW_OWN_APPLICATIONS,
            Perm.VIEW_ALL_APPLICATIONS,
            # Batches are applications too: compliance reads every one (list, detail, results).
            Perm.VIEW_BATCHES,
            Perm.VIEW_MODELS,
            Perm.VIEW_POLICY,
            Perm.RECORD_OUTCOME,
            Perm.VIEW_FAIRNESS_AUDITS,
            Perm.RUN_FAIRNESS_AUDIT,
            Perm.SIGN_OFF_FAIRNESS_AUDIT,
            Perm.VIEW_OVERRIDE_REPORT,
        }
    ),
    Role.MODEL_ADMIN: frozenset(
        {
            Perm.VIEW_MODELS,
            Perm.TRAIN_MODEL,
            Perm.ACTIVATE_MODEL,
            Perm.VIEW_POLICY,
            Perm.CHANGE_POLICY,
            Perm.RECORD_OUTCOME,
        }
    ),
    # Reviewers read every application (the queue spans officers) and override those
    # awaiting review that someone else submitted.
    Role.CREDIT_REVIEWER: frozenset(
        {Perm.VIEW_OWN_APPLICATIONS, Perm.VIEW_ALL_APPLICATIONS, Perm.OVERRIDE_DECISION}
    ),
    Role.SENIOR_CREDIT_REVIEWER: frozenset(
        {
            Perm.VIEW_OWN_APPLICATIONS,
            Perm.VIEW_ALL_APPLICATIONS,
            Perm.OVERRIDE_DECISION,
            Perm.SENIOR_OVERRIDE,
        }
    ),
}


def roles_of(user: Any) -> list[Role]:
    """The roles a user holds, in the order Role declares them."""
    if not getattr(user, "is_authenticated", False):
        return []
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in Role if role.value in names]


def sync_role_groups(apps: Any, schema_editor: Any) -> None:
    """Data-migration step: create the role groups and give each exactly its permissions.

    Permissions of apps not migrated yet are skipped here; their own migration calls this again.
    """
    for app_config in apps.get_app_configs():
        # Permissions are normally created after migrate; create them now so they can be granted.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        granted = []
        for name in sorted(names):
            app_label, codename = name.split(".", 1)
            permission = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:
                granted.append(permission)
        group.permissions.set(granted)
