"""Indexes in the lists' whole order (newest first, then id), for an officer and for all:
a batch's rows share one submission time, so an index on the time alone left the first page
to join and sort every row of the latest batch. They replace the plain indexes on
`created_by` and `submitted_at`, which lead them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applicants", "0006_lz4_documents"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="loanapplication",
            name="applicants__created_3c3e29_idx",
        ),
        migrations.AlterField(
            model_name="loanapplication",
            name="created_by",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="loan_applications",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="loanapplication",
            name="submitted_at",
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AddIndex(
            model_name="loanapplication",
            index=models.Index(
                fields=["created_by", "-submitted_at", "-id"], name="application_list_by_officer"
            ),
        ),
        migrations.AddIndex(
            model_name="loanapplication",
            index=models.Index(
                fields=["-submitted_at", "-id"], name="application_list_newest_first"
            ),
        ),
    ]
