#!/usr/bin/env bash
# One role and one database per service, and the audit store's two roles (docs/audit.md).
# Run once, as the superuser, by the postgres image's entrypoint on an empty data volume
# (/docker-entrypoint-initdb.d, docker-compose.yml); against any other server by hand, with
# psql's PG* variables naming it (deploy/README.md). Idempotent: a second run gives existing
# roles the passwords it is given again and leaves existing databases and their data alone.
#
#   role          may                                                  password from
#   needs         connect to and own the database needs, nothing else   NEEDS_DB_PASSWORD
#   placement     the same with the database placement                  PLACEMENT_DB_PASSWORD
#   reporting     the same with the database reporting                  REPORTING_DB_PASSWORD
#   audit         own the database audit: runs its migrations           AUDIT_DB_PASSWORD
#                 (compose's one-off audit-migrate), never a service
#   audit_writer  connect to audit; SELECT and INSERT on its tables,     AUDIT_WRITER_DB_PASSWORD
#                 USAGE on its sequences; no UPDATE, DELETE, TRUNCATE
#                 or DDL: what the three services write the audit log as
#
# No role is a superuser or may create roles or databases; CONNECT is revoked from PUBLIC on
# all four databases, so a service's role cannot even open another service's database.
# Every password is required; there are no defaults (deploy/.env.example: how to make them).
# SECONDMENT_DB_PREFIX (optional, [a-z0-9_]) goes in front of every role and database name,
# for several deployments on one server.
set -euo pipefail

die() { echo "01-roles-and-databases.sh: $*" >&2; exit 1; }

prefix="${SECONDMENT_DB_PREFIX-}"
[[ "$prefix" =~ ^[a-z0-9_]*$ ]] || die "SECONDMENT_DB_PREFIX may hold only a-z, 0-9 and _"

for variable in NEEDS_DB_PASSWORD PLACEMENT_DB_PASSWORD REPORTING_DB_PASSWORD \
  AUDIT_DB_PASSWORD AUDIT_WRITER_DB_PASSWORD; do
  [[ -n "${!variable-}" ]] || die "set ${variable} (deploy/.env.example)"
done

# As the image's entrypoint runs it: its superuser on the local socket; by hand: PG* variables.
psql_admin() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
    --username "${POSTGRES_USER:-${PGUSER:-postgres}}" \
    --dbname "${POSTGRES_DB:-${PGDATABASE:-postgres}}" "$@"
}

# A role that may log in with this password (set again on every run) and do nothing else.
# psql quotes the variables (:'…' as a literal, :"…" as an identifier): no SQL is built here.
login_role() {  # role password
  psql_admin -v role="$1" -v password="$2" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'password';
SQL
}

# A database of its owner alone: nobody else may connect to it or create objects in it.
own_database() {  # database owner
  psql_admin -v db="$1" -v owner="$2" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
\connect :"db"
ALTER SCHEMA public OWNER TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
}

for service in needs placement reporting; do
  variable="${service^^}_DB_PASSWORD"
  login_role "${prefix}${service}" "${!variable}"
  own_database "${prefix}${service}" "${prefix}${service}"
done
# The placement service's key vault: a database of its own, backed up on its own (short)
# schedule, so that the service's backups hold no key (docs/runbooks/master-key-rotation.md).
own_database "${prefix}placement_vault" "${prefix}placement"

login_role "${prefix}audit" "$AUDIT_DB_PASSWORD"
login_role "${prefix}audit_writer" "$AUDIT_WRITER_DB_PASSWORD"
own_database "${prefix}audit" "${prefix}audit"

# Whatever the owner creates in the audit store (the tables and sequences of its migrations,
# now and later) the writer may read and append to, and nothing more; the audit migrations
# take INSERT on their version table back (shared/infra/audit_migrations).
psql_admin -v db="${prefix}audit" -v owner="${prefix}audit" -v writer="${prefix}audit_writer" <<'SQL'
GRANT CONNECT ON DATABASE :"db" TO :"writer";
\connect :"db"
GRANT USAGE ON SCHEMA public TO :"writer";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT ON TABLES TO :"writer";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE ON SEQUENCES TO :"writer";
SQL

echo "01-roles-and-databases.sh: roles and databases ${prefix}needs, ${prefix}placement" \
  "(and its key vault ${prefix}placement_vault)," \
  "${prefix}reporting and ${prefix}audit (writer ${prefix}audit_writer) are in place"
