"""Unit tests of the needs domain."""
