"""A fairness audit's snapshot never changes once written, and a signed audit never changes
at all; the database refuses both (PostgreSQL and SQLite), and refuses deleting a completed
audit. Also grants the new fairness and outcome permissions to the role groups.
"""

from django.db import migrations

from credscope_site.roles import sync_role_groups

# Columns frozen once the snapshot is written, and those frozen once the audit is signed.
_SNAPSHOT_COLUMNS = (
    "snapshot",
    "snapshot_sha256",
    "verdict",
    "date_from",
    "date_to",
    "attributes",
    "model_version",
    "policy_version",
    "channel",
)
_SIGNED_COLUMNS = ("signed_off_by_id", "signed_off_at", "sign_off_comment", "status")


def _changed(columns):
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


POSTGRES_CREATE = f"""
CREATE OR REPLACE FUNCTION audits_fairnessaudit_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.snapshot IS NOT NULL THEN
            RAISE EXCEPTION 'fairness audit %: a completed audit cannot be deleted', OLD.id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.snapshot IS NOT NULL AND ({_changed(_SNAPSHOT_COLUMNS)}) THEN
        RAISE EXCEPTION 'fairness audit %: its snapshot is immutable', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.signed_off_at IS NOT NULL AND ({_changed(_SIGNED_COLUMNS)}) THEN
        RAISE EXCEPTION 'fairness audit %: a signed audit cannot be changed', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audits_fairnessaudit_immutable
    BEFORE UPDATE OR DELETE ON audits_fairnessaudit
    FOR EACH ROW EXECUTE FUNCTION audits_fairnessaudit_immutable();
"""

POSTGRES_DROP = """
DROP TRIGGER IF EXISTS audits_fairnessaudit_immutable ON audits_fairnessaudit;
DROP FUNCTION IF EXISTS audits_fairnessaudit_immutable();
"""

SQLITE_CREATE = [
    f"""
CREATE TRIGGER audits_fairnessaudit_snapshot_immutable
BEFORE UPDATE ON audits_fairnessaudit
WHEN OLD.snapshot IS NOT NULL AND ({_changed(_SNAPSHOT_COLUMNS).replace("IS DISTINCT FROM", "IS NOT")})
BEGIN SELECT RAISE(ABORT, 'fairness audit: its snapshot is immutable'); END;
""",
    f"""
CREATE TRIGGER audits_fairnessaudit_signed_immutable
BEFORE UPDATE ON audits_fairnessaudit
WHEN OLD.signed_off_at IS NOT NULL AND ({_changed(_SIGNED_COLUMNS).replace("IS DISTINCT FROM", "IS NOT")})
BEGIN SELECT RAISE(ABORT, 'fairness audit: a signed audit cannot be changed'); END;
""",
    """
CREATE TRIGGER audits_fairnessaudit_no_delete
BEFORE DELETE ON audits_fairnessaudit
WHEN OLD.snapshot IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'fairness audit: a completed audit cannot be deleted'); END;
""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS audits_fairnessaudit_snapshot_immutable",
    "DROP TRIGGER IF EXISTS audits_fairnessaudit_signed_immutable",
    "DROP TRIGGER IF EXISTS audits_fairnessaudit_no_delete",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement, params=None)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0009_fairness_audit"),
        ("applicants", "0004_loan_outcome"),
        ("scoring", "0004_four_eyes_senior_permission"),
        ("credscope_site", "0002_four_eyes_roles"),
    ]

    operations = [
        migrations.RunPython(install, remove),
        migrations.RunPython(sync_role_groups, migrations.RunPython.noop),
    ]
