"""A batch's staged rows and its per-row documents compressed with lz4 (see
credscope_site.lz4_storage): a 10,000-row upload writes ~5 MB of intake JSON that a worker
reads back, and PostgreSQL spent ~0.5 s of CPU per upload compressing it with pglz."""

from django.db import migrations

from credscope_site.lz4_storage import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("scoring", "0012_batch_intake")]

    operations = [
        lz4_compression("scoring_batchintake", ["rows", "external_ids"]),
        lz4_compression("scoring_batchjob", ["row_errors", "row_identities", "row_warnings"]),
    ]
