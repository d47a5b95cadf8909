"""A response held back by a middleware until it knows what to do with it (audit it, remember
it under an `Idempotency-Key`), then sent on unchanged."""

from dataclasses import dataclass, field

from starlette.types import Message, Send


@dataclass
class CapturedResponse:
    """The status, headers and body an app sent, kept instead of sent (`send`), until
    `forward` passes them on."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    started: bool = False

    async def send(self, message: Message) -> None:
        """The app's `send`: keeps the response's start and body."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
            self.started = True
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    def header(self, name: bytes) -> str | None:
        """A response header by its lower-case name."""
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == name), None)

    async def forward(self, send: Send) -> None:
        """Send the kept response, in one body."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": bytes(self.body)})
