"""Audit events' payloads compressed with lz4 (see credscope_site.lz4_storage). Stored bytes
only: an event's hash covers its content, not how PostgreSQL compresses it."""

from django.db import migrations

from credscope_site.lz4_storage import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("audits", "0010_fairness_audit_immutable")]

    operations = [lz4_compression("audits_auditevent", ["payload"])]
