"""HTTP helpers every service uses: RFC 9457 problem details, health, request context."""
