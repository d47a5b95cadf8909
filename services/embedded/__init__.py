"""The embedded default: all three services in one process, on an in-process bus and
SQLite files under `var/`. Not a service itself but a composition root; the same
application code runs here as in containers, only the adapters differ."""
