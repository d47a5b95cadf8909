"""The public event contract v1: envelope, event data, topics and rule codes.

Agencies code against these models; a change here is a change to a published promise
(see docs/contract.md and the compatibility test).
"""
