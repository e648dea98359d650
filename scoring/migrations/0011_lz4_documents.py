"""Decisions' documents compressed with lz4 (see credscope_site.lz4_storage)."""

from django.db import migrations

from credscope_site.lz4_storage import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("scoring", "0010_compact_contributions")]

    operations = [
        lz4_compression(
            "scoring_decision",
            [
                "reasons",
                "contributions",
                "family_totals",
                "feature_row",
                "history_rows",
                "counteroffer",
            ],
        ),
        lz4_compression("scoring_challengerscore", ["reasons"]),
    ]
