"""The fault-injection suite (`make chaos`, `python -m tests.faults`).

The three services run as separate OS processes (`python -m services.<name>`, one or two
replicas each) on their own PostgreSQL databases and a real Kafka (one broker or a cluster
of three). A workload driver sends rule-abiding commands over HTTP with `Idempotency-Key`s,
retrying each until it is answered, while a seeded schedule kills service processes and
brokers, restarts PostgreSQL, makes replicas join and leave, and publishes poison events.
Afterwards the suite waits for convergence and checks that every accepted command is in its
service and in reporting's figures exactly once (docs/reliability.md).
"""
