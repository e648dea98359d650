"""Decisions keep their largest contributions, family totals and model row (issue 15).

Existing decisions keep their full list of contributions; their family totals are summed
from it here, so the families chart and the API's families read one field for every
decision."""

from django.db import migrations, models

import credscope_site.fields


def sum_family_totals(apps, schema_editor):
    from scoring.ml.serving.explain import family_totals

    Decision = apps.get_model("scoring", "Decision")
    pending = []
    for decision in Decision.objects.only("pk", "contributions").iterator(chunk_size=500):
        decision.family_totals = family_totals(decision.contributions or [])
        pending.append(decision)
        if len(pending) == 500:
            Decision.objects.bulk_update(pending, ["family_totals"])
            pending = []
    Decision.objects.bulk_update(pending, ["family_totals"])


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0009_counteroffer"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="family_totals",
            field=credscope_site.fields.DocumentJSONField(default=dict),
        ),
        migrations.AddField(
            model_name="decision",
            name="feature_row",
            field=models.BinaryField(editable=False, null=True),
        ),
        migrations.RunPython(sum_family_totals, migrations.RunPython.noop),
    ]
