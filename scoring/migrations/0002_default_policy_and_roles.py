"""Policy version 1 and the roles' permissions on the models this app and applicants add."""

from django.db import migrations

from credscope_site.roles import sync_role_groups

# Thresholds on the probability of default; see DecisionPolicy. Model admins change them by
# creating a new version.
INITIAL_POLICY = {
    "version": 1,
    "very_low_below": 0.03,
    "low_below": 0.06,
    "medium_below": 0.12,
    "high_below": 0.25,
    "approve_below": 0.08,
    "reject_at_or_above": 0.25,
    "note": "Initial policy",
}


def create_initial_policy(apps, schema_editor):
    policy_model = apps.get_model("scoring", "DecisionPolicy")
    if not policy_model.objects.exists():
        policy_model.objects.create(**INITIAL_POLICY)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("applicants", "0002_initial"),
        ("credscope_site", "0001_roles"),
    ]

    operations = [
        migrations.RunPython(create_initial_policy, migrations.RunPython.noop),
        migrations.RunPython(sync_role_groups, migrations.RunPython.noop),
    ]
