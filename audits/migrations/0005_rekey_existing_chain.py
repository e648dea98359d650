"""Seal the chain recorded before it was keyed with an `audit.rekeyed` event.

The new event is an HMAC under AUDIT_CHAIN_KEY over the old head's hash, so the unkeyed
events before it stay verifiable as they were and can no longer be rewritten unnoticed.
Nothing happens on an empty chain.
"""

from django.db import migrations

from audits import trail


def rekey(apps, schema_editor):
    trail.chain_rekey(model=apps.get_model("audits", "AuditEvent"))


class Migration(migrations.Migration):
    dependencies = [("audits", "0004_keyed_chain")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
