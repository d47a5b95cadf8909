"""uvicorn as the services run it: a deadline for the request head (`HeadDeadlineH11Protocol`),
and start-up's objects kept out of the garbage collector's sight (`Server`).

The deadline: uvicorn times out a keep-alive connection only after a response, and any byte
cancels that timer; a connection that sends nothing, or a request head one byte at a time
(slowloris), stays open for ever. Since `limit_concurrency` counts open connections, a few
hundred such sockets from one client would make the server answer 503 to everybody. This
protocol closes a connection whose request head is not complete within `head_timeout` seconds
of its opening or of the previous response. A slow request body is the body limit's and the
app's concern (`shared.http.limits`).
"""

import asyncio
import contextlib
import logging
import socket

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from shared.infra.collector import freeze_startup

log = logging.getLogger(__name__)


class HeadDeadlineH11Protocol(H11Protocol):
    """`H11Protocol` closing connections that do not deliver a request head in time."""

    head_timeout: float = 10.0

    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()  # the next request's head, if the client sends one

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_overdue)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        waiting_for_head = self.cycle is None or self.cycle.response_complete
        if waiting_for_head and not self.transport.is_closing():
            # No request is in progress: at most part of a head is pending, nothing is lost.
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
            self.transport.close()


def with_head_timeout(seconds: float) -> type[HeadDeadlineH11Protocol]:
    """The protocol class for `uvicorn.Config(http=…)` with this deadline."""
    return type("HeadDeadlineH11Protocol", (HeadDeadlineH11Protocol,), {"head_timeout": seconds})


class Server(uvicorn.Server):
    """uvicorn's server that, once the app has started, freezes what start-up made
    (`collector.freeze_startup`): no full garbage collection scans it again, so none stalls
    every request on the event loop for 100 ms. For a process's entry point only."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            log.debug("%d start-up objects frozen", freeze_startup())
