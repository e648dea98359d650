"""Applications' submitted rows compressed with lz4 (see credscope_site.lz4_storage)."""

from django.db import migrations

from credscope_site.lz4_storage import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("applicants", "0005_counteroffer")]

    operations = [lz4_compression("applicants_loanapplication", ["application_row", "history"])]
