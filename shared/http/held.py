"""A response held back by a middleware until it knows what to do with it: the audit writes
its entry first (and may answer 503 instead), idempotency remembers or replaces it."""

import json
from dataclasses import dataclass, field

from starlette.types import Message, Send


@dataclass
class HeldResponse:
    """Collects what the app sends; `forward` sends it on."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    started: bool = False

    async def send(self, message: Message) -> None:
        """The app's `send`."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
            self.started = True
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    def header(self, name: bytes) -> str | None:
        """A response header (name in lower case)."""
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == name), None)

    def rule(self) -> str | None:
        """The rule code of a problem body, if it is one."""
        try:
            parsed = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        rule = parsed.get("rule") if isinstance(parsed, dict) else None
        return rule if isinstance(rule, str) else None

    async def forward(self, send: Send) -> None:
        """Send the held response on, as the app sent it."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": bytes(self.body)})
