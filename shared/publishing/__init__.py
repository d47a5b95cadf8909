"""Tooling that publishes the contract (JSON Schemas, AsyncAPI): not part of the contract."""
