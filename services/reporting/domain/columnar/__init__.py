"""The read models in memory, column by column, and the evaluation's counts computed over them.

Why: an evaluation needs every secondment and need of a phase as at a date (about 100,000 rows
each at the plan's scale); grouping them in the database costs about a second each time
(docs/performance.md), counting over numpy columns a few milliseconds. The columns mirror the
read-model rows (`adapters/tables.py`) exactly, with the same as-of rules as the tables'
documentation: the latest versioned fact when it is the only one, the history when the row is
flagged `*_multi` / `reopened`. `adapters/snapshot.py` loads and refreshes them; nothing here
does I/O.

Encoding: strings become small integers per vocabulary (-1 for none), dates their proleptic
ordinal (`NEVER` for none, so "on or before a day" is one comparison).

Modules, by job: `columns` (the encoding and containers), `store` (the `Snapshot` and how rows
are put into it), `asof` (the selection and the as-of rules), `counting` (numpy counting
primitives), `tally` (the evaluation's counts), `timeline` (per month), `alerts` (what needs
attention).
"""
