"""Unit tests of the shared kernel: phases and the CloudEvents envelope."""
