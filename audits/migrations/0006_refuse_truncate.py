"""On PostgreSQL, TRUNCATE of the audit table is refused too, and only its owner holds more
than SELECT and INSERT on it.

Migration 0002's row trigger never fires for TRUNCATE; a statement-level trigger does. Then
every grant of UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER on the table to any role but
its owner is revoked (default privileges for the runtime role grant them on creation; see
deploy/postgres/roles.sql): the web and worker role can append and read, nothing else. The
triggers stop the owner's own session too; only a superuser or the owner disabling them can
change the table, and `verify_audit_trail` with the checkpoints catches that.
"""

from django.db import migrations

CREATE = """
CREATE TRIGGER audits_auditevent_no_truncate
    BEFORE TRUNCATE ON audits_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audits_auditevent_append_only();

REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audits_auditevent FROM PUBLIC;

DO $$
DECLARE grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'audits_auditevent'
          AND privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
          AND grantee NOT IN ('PUBLIC', (SELECT tableowner FROM pg_tables
                                          WHERE schemaname = current_schema()
                                            AND tablename = 'audits_auditevent'))
    LOOP
        EXECUTE format(
            'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audits_auditevent FROM %I',
            grantee_name
        );
    END LOOP;
END $$;
"""

DROP = "DROP TRIGGER IF EXISTS audits_auditevent_no_truncate ON audits_auditevent;"


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audits", "0005_rekey_existing_chain")]

    operations = [migrations.RunPython(install, remove)]
