#!/bin/sh
# docker compose: PostgreSQL runs this once, on an empty data volume (docker-entrypoint-initdb.d).
# It creates CredScope's owner and app roles and the database (deploy/postgres/roles.sql).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner="${CREDSCOPE_DB_OWNER:-credscope_owner}" \
  -v owner_password="$CREDSCOPE_DB_OWNER_PASSWORD" \
  -v app="${CREDSCOPE_DB_APP:-credscope_app}" \
  -v app_password="$CREDSCOPE_DB_APP_PASSWORD" \
  -v db="${CREDSCOPE_DB_NAME:-credscope}" \
  -f /credscope-db/roles.sql
