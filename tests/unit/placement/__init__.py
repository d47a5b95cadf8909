"""Unit tests of the placement domain: the plan's rules and the Secondment aggregate."""
