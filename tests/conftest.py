"""Test-wide configuration: real infrastructure fixtures come from `tests.infra`."""

pytest_plugins = ["tests.infra", "tests.spans"]
