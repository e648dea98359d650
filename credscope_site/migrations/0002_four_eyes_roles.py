"""Bring the role groups in step with `credscope_site.roles`: compliance reads batches."""

from django.db import migrations

from credscope_site.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("credscope_site", "0001_roles"),
        ("applicants", "0003_alter_loanapplication_application_row_and_more"),
        ("audits", "0008_chain_verification_run"),
        ("scoring", "0003_alter_decision_contributions_alter_decision_reasons"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
