"""Infrastructure every service uses: database, event store, outbox, inbox, transports.

Written here rather than taken from a library: see docs/adr/0001-own-event-store-and-outbox.md.
"""
