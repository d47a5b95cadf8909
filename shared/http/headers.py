"""Browser-facing protections on every response: no MIME sniffing, no framing by another
site, no referrer leaking paths elsewhere, and for HTML pages a Content-Security-Policy that
runs only our own script files and the inline script and style blocks carrying this
response's nonce (`request.state.csp_nonce`): an injected `<script>` or event handler does
not run, and no page of ours can be framed (clickjacking)."""

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]

UNPOLICED = ("/docs", "/redoc")
"""FastAPI's interactive docs load their code from a CDN: no page policy there."""


def content_security_policy(nonce: str) -> str:
    """The policy of an HTML page whose inline blocks carry `nonce`."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    """ASGI middleware adding `ALWAYS` to every response and the CSP to HTML pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        policed = not str(scope.get("path", "")).startswith(UNPOLICED)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers.extend(ALWAYS)
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if policed and content_type.startswith(b"text/html"):
                    csp = content_security_policy(nonce).encode()
                    headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


_OURS = {k for k, _ in ALWAYS} | {b"content-security-policy"}
