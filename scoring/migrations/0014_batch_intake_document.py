"""A batch's staged rows as compact JSON bytes (`scoring.models.intake_document`) instead of
jsonb: PostgreSQL parsed ~26 MB of JSON per 10,000-row upload while the upload waited, and
printed it again for the worker. Intakes waiting when this runs are carried over."""

from django.db import migrations, models

from credscope_site.lz4_storage import lz4_compression


def _encode(apps, schema_editor) -> None:
    from scoring.models import intake_document

    BatchIntake = apps.get_model("scoring", "BatchIntake")
    for intake in BatchIntake.objects.all():
        intake.document = intake_document([tuple(line) for line in intake.rows])
        intake.save(update_fields=["document"])


def _decode(apps, schema_editor) -> None:
    from scoring.models import intake_lines

    BatchIntake = apps.get_model("scoring", "BatchIntake")
    for intake in BatchIntake.objects.all():
        intake.rows = [list(line) for line in intake_lines(intake.document)]
        intake.save(update_fields=["rows"])


class Migration(migrations.Migration):
    dependencies = [("scoring", "0013_lz4_batch_documents")]

    operations = [
        migrations.AddField(
            model_name="batchintake",
            name="document",
            field=models.BinaryField(default=b""),
            preserve_default=False,
        ),
        # Nullable for a moment, so that a rollback can add the column back before filling it.
        migrations.AlterField(
            model_name="batchintake", name="rows", field=models.JSONField(null=True)
        ),
        migrations.RunPython(_encode, _decode),
        migrations.RemoveField(model_name="batchintake", name="rows"),
        lz4_compression("scoring_batchintake", ["document"]),
    ]
