-- CredScope's two PostgreSQL roles and the database they share (docs/AUDIT.md).
--
--   owner  owns the tables; `manage.py migrate` connects as it (DATABASE_URL_MIGRATE).
--   app    what web and workers connect as (DATABASE_URL): reads and writes the tables,
--          but may only SELECT and INSERT on the audit trail; no superuser, so it can neither
--          skip triggers (session_replication_role) nor alter them.
--
-- Run as a superuser, on a new or an existing database (every step is idempotent):
--   psql -v ON_ERROR_STOP=1 -v owner=credscope_owner -v owner_password=... \
--        -v app=credscope_app -v app_password=... -v db=credscope -f deploy/postgres/roles.sql
-- docker compose runs it on first start (deploy/postgres/initdb.sh).

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', :'app')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
-- Keep both without superuser even if they existed before with it.
ALTER ROLE :"owner" NOSUPERUSER NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE :"app" NOSUPERUSER NOBYPASSRLS PASSWORD :'app_password';

SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";

\connect :"db"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";

-- An existing database created by another user: the owner takes its tables and sequences.
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'owner')
FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'owner' \gexec
SELECT format('ALTER SEQUENCE public.%I OWNER TO %I', c.relname, :'owner')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> :'owner'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER FUNCTION public.%I() OWNER TO %I', proname, :'owner')
FROM pg_proc WHERE proname = 'audits_auditevent_append_only' \gexec

-- Tables the owner creates from now on (migrations) are open to the app...
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";
-- ...and so are the ones already there,
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
-- except the audit trail: append and read only (audits migration 0006 does the same when it
-- creates the table's guards).
SELECT format(
    'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.audits_auditevent FROM %I',
    :'app')
WHERE to_regclass('public.audits_auditevent') IS NOT NULL \gexec
