"""A batch's staged rows as compact JSON bytes (`scoring.models.intake_document`) instead of
jsonb: PostgreSQL parsed ~26 MB of JSON per 10,000-row upload while the upload waited, and
printed it again for the worker. Intakes waiting when this runs are carried over, and back on
a rollback. The format is written out here, as it was when this migration was made, so that
a later change to it cannot change what this migration does."""

import json

from django.db import migrations, models

from credscope_site.lz4_storage import lz4_compression


def _encode(apps, schema_editor) -> None:
    BatchIntake = apps.get_model("scoring", "BatchIntake")
    for intake in BatchIntake.objects.iterator(chunk_size=20):
        # rows: [[row number, row, SK_ID_CURR, full name], ...]; the document as intake_document.
        columns = list(dict.fromkeys(name for line in intake.rows for name in line[1]))
        document = {
            "columns": columns,
            "lines": [
                [number, [row.get(name) for name in columns], external_id, full_name]
                for number, row, external_id, full_name in intake.rows
            ],
        }
        intake.document = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
        intake.save(update_fields=["document"])


def _decode(apps, schema_editor) -> None:
    BatchIntake = apps.get_model("scoring", "BatchIntake")
    for intake in BatchIntake.objects.iterator(chunk_size=20):
        document = json.loads(bytes(intake.document))
        columns = document["columns"]
        intake.rows = [
            [
                number,
                {n: v for n, v in zip(columns, values, strict=True) if v is not None},
                external_id,
                full_name,
            ]
            for number, values, external_id, full_name in document["lines"]
        ]
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
        lz4_compression("scoring_batchintake", ["document"]),
        # Nullable for a moment, so that a rollback can add the column back before filling it.
        migrations.AlterField(
            model_name="batchintake", name="rows", field=models.JSONField(null=True)
        ),
        migrations.RunPython(_encode, _decode),
        lz4_compression("scoring_batchintake", ["rows"], on_rollback=True),
        migrations.RemoveField(model_name="batchintake", name="rows"),
    ]
