"""A ceiling on request bodies, so no client can make a service buffer an unbounded body.

Every app `create_app` builds refuses a body over `max_body_bytes` (1 MiB unless configured)
with a 413 `REQUEST_TOO_LARGE` problem: at once when `Content-Length` says so, before any of
it is read; and, for a body without `Content-Length` (chunked), as soon as the chunks read so
far pass the limit. The largest legitimate bodies (a need, a secondment, one spreadsheet row
of the importer, the sign-in form) are a few kilobytes.
"""

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contract.rules import RuleCode
from shared.http.problems import problem

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class HttpLimitSettings(BaseSettings):
    """The HTTP server's limits; every service's settings class inherits them
    (`<SERVICE>_MAX_BODY_BYTES`, `<SERVICE>_HTTP_MAX_CONNECTIONS`, …)."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body accepted, in bytes; larger ones are refused with 413."""
    http_max_connections: int = Field(default=256, ge=1)
    """Connections and requests in progress at once; beyond, uvicorn answers 503 at once
    rather than queueing without end (a flood meets a fast refusal, not a dead process)."""
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    """An idle keep-alive connection is closed after this long (idle sockets cost memory)."""
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    """Request line and headers still incomplete after this many bytes are refused (400) and
    the connection closed: a client cannot make the server buffer an endless header block."""
    http_header_timeout_seconds: float = Field(default=10.0, gt=0)
    """A connection whose request line and headers are not complete this long after it
    opened (or after the previous answer) is closed: idle or trickling sockets cannot hold
    the `http_max_connections` places and make the server answer 503 to everybody."""

    def uvicorn_config(self, app: Any, host: str, port: int, log_level: str = "info") -> Any:
        """The server's configuration with these limits (a `uvicorn.Config`)."""
        import uvicorn

        from shared.http.server import with_head_timeout

        return uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=None,  # records go to the root handler (shared.infra.logs: text or JSON)
            http=with_head_timeout(self.http_header_timeout_seconds),
            limit_concurrency=self.http_max_connections,
            timeout_keep_alive=self.http_keep_alive_seconds,
            h11_max_incomplete_event_size=self.http_max_header_bytes,
            timeout_graceful_shutdown=10,
            server_header=False,
        )


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the chunks of a body pass the limit.

    An HTTPException, so FastAPI's body parsing lets it through to the problem handlers
    (`shared.http.problems`) instead of calling it a parse error.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    """The problem's detail: the limit only, never anything of the body."""
    return f"the request body is larger than {limit} bytes"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


class BodyLimitMiddleware:
    """ASGI middleware refusing request bodies over `max_bytes` with a 413 problem."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, watching)
        except BodyTooLarge:
            # Read outside a route (e.g. by the idempotency middleware): nothing answered yet.
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        response = problem(request, RuleCode.REQUEST_TOO_LARGE, too_large_detail(self.max_bytes))
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
