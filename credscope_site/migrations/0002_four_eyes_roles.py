"""Bring the role groups in step with `credscope_site.roles`: compliance reads batches and
the override report; overrides move from officers to the (senior) credit reviewer roles."""

from django.db import migrations

from credscope_site.roles import sync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("credscope_site", "0001_roles"),
        ("applicants", "0003_alter_loanapplication_application_row_and_more"),
        ("audits", "0008_chain_verification_run"),
        ("scoring", "0004_four_eyes_senior_permission"),
    ]

    operations = [migrations.RunPython(sync_role_groups, migrations.RunPython.noop)]
