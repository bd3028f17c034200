#!/bin/sh
# Run once by the official postgres image (from /docker-entrypoint-initdb.d/)
# when its data volume is empty. Creates the two databases of the compose demo:
#   logto  - Logto's; Logto connects as the superuser `postgres` because its
#            seed creates roles (`logto_tenant_*`) and row-level security policies.
#   portal - the portal's; owned by the unprivileged role `portal`
#            (password PORTAL_DB_PASSWORD), which runs the migrations.
set -e  # not -u: the image sources (rather than runs) this file when it is not executable

: "${PORTAL_DB_PASSWORD:?PORTAL_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=portal_password="$PORTAL_DB_PASSWORD" <<'SQL'
CREATE DATABASE logto;
CREATE ROLE portal LOGIN PASSWORD :'portal_password';
CREATE DATABASE portal OWNER portal;
REVOKE ALL ON DATABASE portal FROM PUBLIC;
SQL
