"""Auditing every service's HTTP requests, and `GET /api/audit` to read the log.

`AuditMiddleware` (installed by `create_app` when the app has an audit store) appends an
entry, before the response leaves, for
- every refused request (any 4xx problem: 401 and 403 included; the rule code is kept) —
  those of callers without a valid token counted per kind and minute rather than written one
  by one (`AuditLog.record_unauthenticated`), so that nobody can flood the store,
- every command (routes marked `@audited(Action…)`, and any other non-GET that succeeded),
- every read of personal data and every export (routes marked with those categories),
- every read of the audit log itself.
An entry names the caller (the token's agency and subject), the action, the route template,
the status and rule code, and the ids of the records involved (path parameters, and the
`need_id`, `secondment_id`, `official_id` and `phase_id` found in the request or response
body), never a personal value.

Personal data and exports are never shown unaudited: when their entry cannot be written the
answer is a 503 problem instead. A command that commits commits its entry with it, in the
service's own database (`shared.infra.audit_outbox`), so the audit store's availability never
blocks it; a failed direct write (a refusal's) is logged as an error.
"""

import contextlib
import datetime as dt
import json
import logging
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.authz import Action, Principal, authorize
from shared.http.auth import PrincipalDep, Unauthenticated, bearer_token
from shared.http.captured import CapturedResponse
from shared.http.problems import PROBLEM_JSON, problem_responses
from shared.infra.audit import AuditLog
from shared.infra.audit_entries import (
    RECORD_ID,
    AuditEntry,
    AuditRecord,
    Category,
    Channel,
    Outcome,
)
from shared.infra.audit_outbox import PendingAudit, auditing
from shared.seedwork.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, cut_page, decode_cursor

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

SKIPPED = ("/healthz", "/readyz", "/static/", "/docs", "/redoc", "/openapi.json", "/favicon")
"""Paths never audited: health, static assets and interactive docs."""

ID = RECORD_ID

ID_FIELDS = ("need_id", "secondment_id", "official_id", "phase_id", "plan_id")
SHOWN_ONLY_IF_AUDITED = (Category.PERSONAL_DATA, Category.EXPORT, Category.AUDIT)
READS = ("GET", "HEAD", "OPTIONS")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
"""Methods named as they are in entries; any other (HTTP lets a client make one up) is
`OTHER`, so that a made-up method per request neither makes each anonymous refusal a kind
of its own (defeating the count) nor puts the client's text into the log."""


@dataclass(frozen=True)
class AuditSpec:
    """What a route does, for the log."""

    action: str
    category: Category


_SPECS: "weakref.WeakKeyDictionary[Callable[..., Any], AuditSpec]" = weakref.WeakKeyDictionary()


def audited(action: Action | str, category: Category = Category.COMMAND) -> Callable[[F], F]:
    """Mark a route's endpoint: its successful requests are audited as `action`.

    Put it below `@router.get(...)` / `@router.post(...)`; it returns the function unchanged.
    """

    def mark(endpoint: F) -> F:
        name = action.value if isinstance(action, Action) else action
        _SPECS[endpoint] = AuditSpec(name, category)
        return endpoint

    return mark


def audit_spec(endpoint: Callable[..., Any] | None) -> AuditSpec | None:
    """The mark of an endpoint, if any."""
    return None if endpoint is None else _SPECS.get(endpoint)


def _json(raw: bytes | bytearray) -> Any:
    """The body as JSON, or None; a body nested too deep for the parser (RecursionError) is
    no more readable than a malformed one and must not turn a refusal into a 500."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _ids_in(value: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(kind, id) of the id fields of a JSON object, its `official` and its list `items`."""
    if isinstance(value, dict):
        for name in ID_FIELDS:
            found = value.get(name)
            if isinstance(found, str) and ID.match(found):
                yield name.removesuffix("_id"), found
        if depth == 0:
            yield from _ids_in(value.get("official"), depth + 1)
            items = value.get("items")
            if isinstance(items, list):
                for item in items:
                    yield from _ids_in(item, depth + 1)
    elif isinstance(value, list) and depth == 0:
        for item in value:
            yield from _ids_in(item, depth + 1)


def _ids_in_path(params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, value in params.items():
        if name.endswith("_id") and isinstance(value, str) and ID.match(value):
            yield name.removesuffix("_id"), value


@dataclass
class _Exchange(CapturedResponse):
    """The request body as the app read it, and the response held back until audited."""

    request_body: bytearray = field(default_factory=bytearray)

    def receiving(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.request_body.extend(message.get("body", b""))
            return message

        return wrapped


class AuditMiddleware:
    """ASGI middleware writing the app's `state.audit` (an `AuditLog`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        audit: AuditLog | None = getattr(scope.get("app") and scope["app"].state, "audit", None)
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or audit is None
            or not audit.started  # an app served without its lifespan (OpenAPI, tests)
            or path.startswith(SKIPPED)
        ):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        exchange = _Exchange()
        pending = None
        if scope["method"] not in READS and audit.forwarded_from_services:
            # A command that commits commits its entry with it (`shared.infra.audit_outbox`).
            pending = PendingAudit(partial(self._committed_entry, scope, exchange))
        try:
            with auditing(pending) if pending else contextlib.nullcontext():
                await self.app(scope, exchange.receiving(receive), exchange.send)
        except Exception:
            exchange.status = 500
            await self._write(audit, self._entry(scope, exchange, failed=True))
            raise
        if pending is not None and pending.committed and exchange.status < 400:
            await exchange.forward(send)
            return
        entry = self._entry(scope, exchange)
        if entry is not None:
            written = await self._write(audit, entry)
            if not written and entry.category in SHOWN_ONLY_IF_AUDITED and exchange.status < 400:
                await _unavailable(send, path)
                return
        await exchange.forward(send)

    @staticmethod
    async def _write(audit: AuditLog, entry: AuditRecord | None) -> bool:
        if entry is None:
            return True
        try:
            if audit.forwarded_from_services and entry.agency is not None:
                await audit.forward_committed()  # so that the log keeps the order of events
            if entry.agency is None and entry.outcome is Outcome.REFUSED:
                await audit.record_unauthenticated(entry)  # counted: anyone can send these
            else:
                await audit.record(entry)
        except Exception:
            log.exception("could not write the audit entry %s %s", entry.action, entry.outcome)
            return False
        return True

    def _committed_entry(
        self, scope: Scope, exchange: _Exchange, answer: BaseModel | None
    ) -> AuditRecord:
        """The entry of a command as its unit of work commits: accepted, with the status its
        route answers and the ids of its answer."""
        status = getattr(scope.get("route"), "status_code", None) or 200
        response = answer.model_dump(mode="json") if answer is not None else None
        return self._record(scope, exchange, status, Outcome.ACCEPTED, response)

    def _entry(self, scope: Scope, exchange: _Exchange, failed: bool = False) -> AuditRecord | None:
        route = scope.get("route")
        spec = audit_spec(getattr(route, "endpoint", None))
        method: str = scope["method"] if scope["method"] in METHODS else "OTHER"
        status = exchange.status
        if failed:
            outcome = Outcome.FAILED
        elif status >= 400:
            outcome = Outcome.REFUSED if status < 500 else Outcome.FAILED
        elif spec is None and method in READS:
            return None  # an unmarked read that succeeded: no personal data, nothing to keep
        elif exchange.header(b"idempotent-replayed") == "true":
            outcome = Outcome.REPLAYED
        else:
            outcome = Outcome.ACCEPTED
        response = _json(exchange.body) if exchange.body else None
        return self._record(scope, exchange, status, outcome, response)

    def _record(
        self, scope: Scope, exchange: _Exchange, status: int, outcome: Outcome, response: Any
    ) -> AuditRecord:
        route = scope.get("route")
        template = getattr(route, "path", None)
        spec = audit_spec(getattr(route, "endpoint", None))
        method: str = scope["method"] if scope["method"] in METHODS else "OTHER"
        records = [
            *_ids_in_path(scope.get("path_params") or {}),
            *_ids_in(_json(exchange.request_body) if exchange.request_body else None),
            *(_ids_in(response) if status < 400 else ()),
        ]
        rule = response.get("rule") if isinstance(response, dict) and status >= 400 else None
        who = self._principal(scope)
        return AuditRecord(
            channel=Channel.HTTP,
            agency=who.agency if who else None,
            subject=who.subject if who else None,
            action=spec.action if spec else f"{method} {template or 'unknown route'}",
            category=spec.category if spec else Category.REQUEST,
            outcome=outcome,
            status=status,
            rule=rule if isinstance(rule, str) else None,
            route=f"{method} {template}" if template else None,
            records=tuple(records),
        )

    @staticmethod
    def _principal(scope: Scope) -> Principal | None:
        who = scope["state"].get("principal")
        if isinstance(who, Principal):
            return who
        try:  # refused before the route asked who it is (unknown route, invalid body …)
            verified: Principal = scope["app"].state.verifier.verify(bearer_token(Request(scope)))
        except (Unauthenticated, AttributeError):
            return None
        return verified


async def _unavailable(send: Send, path: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Audit log unavailable",
            "status": 503,
            "detail": "personal data and exports are not shown while they cannot be audited",
            "instance": path,
        }
    ).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"retry-after", b"5")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_audit_router() -> APIRouter:
    """`GET /api/audit` (scope `audit:read`), served once per app by `create_app`."""
    router = APIRouter(
        prefix="/api/audit", tags=["audit"], responses=problem_responses(401, 403, 422)
    )

    @router.get("", response_model=Page[AuditEntry])
    @audited(Action.READ_AUDIT, Category.AUDIT)
    async def audit_entries(
        request: Request,
        who: PrincipalDep,
        agency: Annotated[str | None, Query(description="Unit code of the caller.")] = None,
        action: Annotated[str | None, Query(description="e.g. `SecondOfficial`.")] = None,
        record: Annotated[str | None, Query(description="A need, secondment or official id.")] = (
            None
        ),
        since: Annotated[dt.datetime | None, Query(description="From this time (UTC).")] = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Page[AuditEntry]:
        """Audit entries, oldest first; follow `next_cursor` for more."""
        authorize(who, Action.READ_AUDIT)
        store: AuditLog = request.app.state.audit
        rows = await store.entries(
            after=decode_cursor(cursor),
            limit=limit + 1,
            agency=agency,
            action=action,
            record=record,
            since=since,
        )
        page, after = cut_page(rows, limit, lambda row: row.position)
        return Page[AuditEntry](items=list(page), next_cursor=after)

    return router
