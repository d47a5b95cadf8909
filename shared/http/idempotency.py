"""`Idempotency-Key` on POST and PATCH: a retry with the same key returns the first answer.

A key belongs to one caller (the token's issuer, agency and subject) and lives 24 hours
(`HTTP_ANSWER_TTL`). The first request with a key runs; its answer (status and body) is
written in the very transaction that commits the command's events (`shared.infra.answers`), so
a crash between the commit and the response cannot apply the command twice on retry. A retry
with the same method, path and body gets the stored answer with `Idempotent-Replayed: true`;
the same key with another request is a 422 problem.

The stored answer is not looked up before the command runs (that would cost every command a
transaction for the rare retry): a retry's command runs too, but can never commit, since its
transaction must insert the answer under the key already taken; it rolls back, whatever it did,
and the stored answer is sent instead. A retry whose command fails before committing (a rule
the first request's effects now break, an error) is answered the same way.

Refusals that depend only on the request (422 rules, 404, 409 business rules) are remembered
too, after the response. Answers that may change on retry are not: 401, 403 (the token may
gain a scope), 408, 429, `CONCURRENT_UPDATE` and every 5xx (including `NEED_NOT_YET_KNOWN`).
Two requests racing with one key both run, but only one commits: the loser's transaction
rolls back on the key's primary key and it answers what the winner answered.
"""

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contract.envelope import CloudEvent
from shared.contract.rules import RuleCode
from shared.http.auth import Unauthenticated, bearer_token
from shared.http.captured import CapturedResponse
from shared.http.problems import PROBLEM_JSON, problem
from shared.infra.answers import (
    HTTP_ANSWER_TTL,
    Answer,
    AnswerExists,
    CommandAnswers,
    answer_json,
    answering,
    request_digest,
)
from shared.infra.fast_insert import Inserts

MAX_CALLER = 200
"""The answers table's caller column; a longer caller is stored by its hash."""

log = logging.getLogger(__name__)

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
METHODS = ("POST", "PATCH")
NOT_REMEMBERED = frozenset({401, 403, 408, 425, 429})
MAX_KEY_LENGTH = 200


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(0x20 <= ord(c) <= 0x7E for c in key)


@dataclass
class _Pending:
    """The answer the command's transaction writes (see `shared.infra.answers`)."""

    store: CommandAnswers
    caller: str
    key: str
    digest: str
    scope: Scope
    written: bool = False
    stored: tuple[int, str | None] | None = None
    """(status, body) the transaction stored."""

    def applies_to(self, sessions: async_sessionmaker[AsyncSession]) -> bool:
        return not self.written and sessions is self.store.sessions

    async def write(
        self,
        session: AsyncSession,
        result: BaseModel | None,
        events: Sequence[CloudEvent],
        inserts: Inserts | None = None,
    ) -> None:
        body = None if result is None else answer_json(result)
        # The route is matched by now: its declared status is the answer's (201 or 200).
        route = self.scope.get("route")
        status = int(getattr(route, "status_code", None) or 200)
        answer = Answer(self.digest, status, body)
        # With the command's held rows where it can (AnswerExists comes with the commit then).
        await self.store.insert(
            session, self.caller, self.key, answer, ttl=HTTP_ANSWER_TTL, inserts=inserts
        )
        self.written = True
        self.stored = (status, body)


class _Captured(CapturedResponse):
    """A response held back until we know it is the one to send."""

    def rule(self) -> str | None:
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None
        return parsed.get("rule") if isinstance(parsed, dict) else None


def _remembered(captured: _Captured) -> bool:
    if 200 <= captured.status < 300:
        return True
    if not 400 <= captured.status < 500 or captured.status in NOT_REMEMBERED:
        return False
    return captured.rule() != RuleCode.CONCURRENT_UPDATE.value


class IdempotencyMiddleware:
    """ASGI middleware; the app's `state.answer_stores` maps path prefixes to stores."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = request.headers.get(HEADER)
        store = self._store(scope) if key is not None else None
        if key is None or store is None:
            await self.app(scope, receive, send)
            return
        if not _valid_key(key):
            response = problem(
                request,
                RuleCode.INVALID_REQUEST,
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            )
            await response(scope, receive, send)
            return
        try:
            principal = scope["app"].state.verifier.verify(bearer_token(request))
        except Unauthenticated:
            await self.app(scope, receive, send)  # answers 401; nothing to remember
            return
        body = await _read_body(receive)
        digest = request_digest(scope["method"], scope["path"], body)
        # The issuer too: the same `sub` from two issuers is two people, and one must never
        # be handed the other's remembered answer.
        caller = f"http:{principal.issuer}|{principal.agency}/{principal.subject}"
        if len(caller) > MAX_CALLER:
            caller = "http:sha256:" + hashlib.sha256(caller.encode()).hexdigest()
        pending = _Pending(store, caller, key, digest, scope)
        captured = _Captured()
        try:
            with answering(pending):
                await self.app(scope, _replaying(body, receive), captured.send)
        except AnswerExists:
            pending.written = False
            captured = _Captured()
        except Exception:
            # Our command wrote its answer: an error after that is ours (500). Otherwise a
            # retry whose command failed: the first answer is the answer.
            found = None if pending.written else await store.find(caller, key)
            if found is None:
                raise
            await self._replay(found, digest, key, request, send)
            return
        if pending.written and 200 <= captured.status < 300:
            # The transaction remembered the result; keep exactly what was sent (when it is
            # not already what was stored: a transaction fewer).
            sent = (captured.status, captured.body.decode())
            if sent != pending.stored:
                await store.complete(caller, key, *sent)
        else:
            found = await store.find(caller, key)  # a retry, or a concurrent first request?
            if found is not None:
                await self._replay(found, digest, key, request, send)
                return
            if not captured.started:
                raise RuntimeError("the first request with this key failed without an answer")
            if _remembered(captured):
                await store.remember(
                    caller,
                    key,
                    Answer(digest, captured.status, captured.body.decode()),
                    ttl=HTTP_ANSWER_TTL,
                )
        await captured.forward(send)
        try:
            await store.purge_if_due()
        except Exception:
            log.warning("purging expired idempotency keys failed", exc_info=True)

    def _store(self, scope: Scope) -> CommandAnswers | None:
        stores: list[tuple[str, CommandAnswers]] = getattr(scope["app"].state, "answer_stores", [])
        path: str = scope["path"]
        for prefix, store in stores:
            if path == prefix or path.startswith(prefix + "/"):
                return store
        return None

    @staticmethod
    async def _replay(found: Answer, digest: str, key: str, request: Request, send: Send) -> None:
        _note_route(request.scope)
        if found.request_sha256 != digest:
            response = problem(
                request,
                RuleCode.INVALID_REQUEST,
                f"Idempotency-Key {key} was first used with another request",
                extra={"idempotency_key": key},
            )
            await response(request.scope, _nothing, send)
            return
        if found.body is None:
            # Applied, but the service stopped before the answer without a result was kept.
            response = problem(
                request,
                RuleCode.CONCURRENT_UPDATE,
                f"the request with Idempotency-Key {key} was applied; its answer was not kept",
            )
            await response(request.scope, _nothing, send)
            return
        media = PROBLEM_JSON if found.status >= 400 else "application/json"
        body = found.body.encode()
        headers = [
            (b"content-type", media.encode()),
            (b"content-length", str(len(body)).encode()),
            (REPLAYED.lower().encode(), b"true"),
        ]
        await send({"type": "http.response.start", "status": found.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _note_route(scope: Scope) -> None:
    """Record in the scope the route an answer is given for without running it (the audit
    log names the action of a replayed request)."""
    if scope.get("route") is not None:
        return
    for context in iter_route_contexts(scope["app"].routes):
        match, child = context.matches(scope)
        if match is Match.FULL:
            scope["route"] = context
            scope["path_params"] = child.get("path_params", {})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, then: Receive) -> Receive:
    """The body already read, then the client's own messages (its disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
