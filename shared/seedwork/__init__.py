"""Seedwork: the small domain building blocks every service's domain uses (no I/O)."""
