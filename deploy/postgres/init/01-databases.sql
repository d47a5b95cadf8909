-- One database per service (database-per-service: no service reads another's tables).
-- Run once by the postgres image's entrypoint, on an empty data volume only
-- (/docker-entrypoint-initdb.d). Each service creates and migrates its own tables at start.
CREATE DATABASE needs;
CREATE DATABASE placement;
CREATE DATABASE reporting;
-- The deployment's audit log, shared by the three services (append-only: see docs/audit.md).
CREATE DATABASE audit;
