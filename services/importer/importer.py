"""Import rows through the public HTTP API: the same command path every agency uses.

Each row, in order: raise or reuse its need, second the official, record the reception, the
ending and the post arrangement. A refusal stops that row (later steps are skipped) and the
import goes on. Before creating anything the importer looks for what an earlier run created,
so running the same file twice writes nothing the second time:

- a need is the one listed by `GET /api/needs?host_unit=&sector=` with the same
  `position_title`, `raised_on` and `need_ref` (kept at the end of its description);
- a secondment is the one listed by `GET /api/secondments?official_id=` with the same
  `start_date` and decision number;
- a step is recorded already when the secondment shows its `reception`, `ending` or
  `post_arrangement`.

Rows run a few at a time, but a row waits for every earlier row of the same need or the same
official: the outcome is the one a strictly sequential run in file order gives (which row of
two overlapping secondments is refused, which row finds a need full).
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from services.importer.auth import MissingToken, NoTokens, Role, Tokens
from services.importer.outcomes import (
    ImportAborted,
    ImportReport,
    Outcome,
    Refusal,
    Refused,
    RowResult,
    Step,
)
from services.importer.readers import SourceRow
from services.importer.rows import CellError, NeedFields, ParsedRow, need_ref_of, parse_row

ACTOR: Final = "importer"
PAGE: Final = 500
RETRY_BUDGET_S: Final = 30.0
"""How long a row waits for the placement service to learn of a need just raised."""
DEFAULT_CONCURRENCY: Final = 4
TRANSPORT_RETRIES_S: Final = (0.2, 1.0)
"""Pauses before retrying a request the network lost; then the run stops."""


Auth = tuple[Role, str | None]
"""Whose token a request carries: the role and the unit code the row names for it."""


def _refusal_from(step: Step, response: httpx.Response) -> Refusal:
    """A refusal from an RFC 9457 problem (or any non-2xx answer)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Refusal(
            step, f"HTTP_{response.status_code}", response.text[:300], response.status_code
        )
    rule = str(body.get("rule") or f"HTTP_{response.status_code}")
    parts = [str(p) for p in (body.get("title"), body.get("detail")) if p]
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        described = []
        for e in errors:
            if isinstance(e, dict):
                loc = [str(p) for p in e.get("loc", []) if p != "body"]
                described.append(f"{'.'.join(loc)}: {e.get('msg', '')}")
        parts.append("; ".join(described))
    return Refusal(step, rule, " — ".join(parts), response.status_code)


def _rule(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("rule")) if isinstance(body, dict) and body.get("rule") else None


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.01, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def need_key(parsed: ParsedRow) -> tuple[object, ...]:
    """Rows with equal keys share a need: the `need_ref`, else what a look-up matches on."""
    if parsed.need_ref is not None:
        return ("need_ref", parsed.need_ref)
    n = parsed.need
    return ("need", n.host_unit, n.sector, n.position_title, n.raised_on)


class Importer:
    """One import run against one API; remembers what it found or created in this run."""

    def __init__(self, client: httpx.AsyncClient, tokens: Tokens) -> None:
        self.client = client
        self.tokens = tokens
        self._needs_listed: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._listing: dict[tuple[str, str], asyncio.Lock] = {}
        self._need_of_key: dict[object, str] = {}
        self._need_refusal: dict[object, Refusal] = {}
        self._ref_first: dict[str, tuple[int, NeedFields]] = {}
        self._secondments_of: dict[tuple[str, str], list[dict[str, Any]]] = {}
        """(home unit, official id) → the official's secondments: an official id is its home
        authority's own, and only that authority reads them (report readers see figures)."""

    async def import_row(self, row: SourceRow, parsed: ParsedRow | None = None) -> RowResult:
        """Every step of one row, in order, stopping at the first refusal."""
        run = _RowRun(self, RowResult(row=row), str(uuid.uuid4()))
        result = run.result
        try:
            if parsed is None:
                try:
                    parsed = parse_row(row)
                except CellError as exc:
                    raise Refused(Refusal(Step.READ, "INVALID_REQUEST", str(exc))) from exc
            result.need_id = await run.need(parsed)
            secondment = await run.secondment(parsed, result.need_id)
            result.secondment_id = str(secondment["secondment_id"])
            if secondment.get("status") != "CANCELLED":
                await run.later_steps(parsed, secondment)
        except Refused as exc:
            result.refusal = exc.refusal
            result.outcome = Outcome.REFUSED
            return result
        result.outcome = Outcome.IMPORTED if result.recorded else Outcome.PRESENT
        return result


@dataclass
class _RowRun:
    """One row's requests: its correlation id and its result."""

    importer: Importer
    result: RowResult
    correlation: str

    def _headers(self, step: Step, auth: Auth) -> dict[str, str]:
        role, agency = auth
        tokens = self.importer.tokens
        try:
            token = tokens.token(role, agency)
            if token is None and role is Role.READER and agency is not None:
                # no reader's token: look up with the token of the party the row names
                token = tokens.token(Role.HOST if step is Step.NEED else Role.HOME, agency)
        except MissingToken as exc:
            raise Refused(Refusal(step, "UNAUTHENTICATED", str(exc))) from exc
        headers = {"X-Actor": ACTOR, "X-Correlation-Id": self.correlation}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def send(
        self, step: Step, auth: Auth, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        """One request; waits out `NEED_NOT_YET_KNOWN` and lost optimistic races, and
        retries a request the network lost. A write carries an `Idempotency-Key` kept across
        its retries, so a write the API committed but whose answer was lost is not done twice."""
        headers = self._headers(step, auth)
        if method == "POST":
            headers["Idempotency-Key"] = f"importer-{uuid.uuid4()}"
        deadline = time.monotonic() + RETRY_BUDGET_S
        pause, conflicts, lost = 0.01, 0, 0
        while True:
            try:
                response = await self.importer.client.request(
                    method, url, headers=headers, **kwargs
                )
            except httpx.TransportError as exc:
                lost += 1
                if lost <= len(TRANSPORT_RETRIES_S):
                    await asyncio.sleep(TRANSPORT_RETRIES_S[lost - 1])
                    continue
                where = self.importer.client.base_url.join(url)
                raise ImportAborted(
                    f"cannot reach the API at {where} ({type(exc).__name__}: {exc})"
                ) from exc
            if response.status_code == 503 and time.monotonic() < deadline:
                # the placement service has not yet consumed the need just raised
                retry_after = _retry_after(response)
                await asyncio.sleep(min(pause, retry_after))
                pause = min(pause * 2, retry_after)
                continue
            lost_race = response.status_code == 409 and _rule(response) == "CONCURRENT_UPDATE"
            if lost_race and conflicts < 3:
                conflicts += 1
                continue
            if response.is_success:
                return response
            if response.status_code == 401:
                hint = (
                    "check the token"
                    if "Authorization" in headers
                    else "the API asks for a token: give --token, --tokens or --dev-keys"
                )
                message = _refusal_from(step, response).message
                raise ImportAborted(f"{method} {url}: {message} ({hint})")
            raise Refused(_refusal_from(step, response))

    async def list_all(
        self, step: Step, auth: Auth, url: str, params: dict[str, str]
    ) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = params | {"limit": str(PAGE)} | ({"cursor": cursor} if cursor else {})
            page = (await self.send(step, auth, "GET", url, params=query)).json()
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def need(self, parsed: ParsedRow) -> str:
        """The need's id: found by an earlier row or run, else raised now."""
        imp, need, ref = self.importer, parsed.need, parsed.need_ref
        if ref is not None:
            first = imp._ref_first.setdefault(ref, (self.result.row.number, need))
            if first[1] != need:
                raise Refused(
                    Refusal(
                        Step.NEED,
                        "INVALID_REQUEST",
                        f"need_ref {ref}: the need's columns differ from row {first[0]}",
                    )
                )
        key = need_key(parsed)
        if key in imp._need_of_key:
            return imp._need_of_key[key]
        if key in imp._need_refusal:
            raise Refused(imp._need_refusal[key])
        try:
            listed = await self._listed_needs(need.host_unit, need.sector)
            for item in listed:
                if (
                    item.get("position_title") == need.position_title
                    and item.get("raised_on") == need.raised_on.isoformat()
                    and need_ref_of(item.get("description")) == ref
                ):
                    imp._need_of_key[key] = str(item["need_id"])
                    self.result.found.append(Step.NEED)
                    return imp._need_of_key[key]
            response = await self.send(
                Step.NEED, (Role.HOST, need.host_unit), "POST", "/api/needs", json=need.body(ref)
            )
        except Refused as exc:
            imp._need_refusal[key] = exc.refusal
            raise
        created: dict[str, Any] = response.json()
        listed.append(created)
        imp._need_of_key[key] = str(created["need_id"])
        self.result.recorded.append(Step.NEED)
        return imp._need_of_key[key]

    async def _listed_needs(self, host_unit: str, sector: str) -> list[dict[str, Any]]:
        """The needs of a host and sector, listed once per run."""
        imp, key = self.importer, (host_unit, sector)
        async with imp._listing.setdefault(key, asyncio.Lock()):
            if key not in imp._needs_listed:
                imp._needs_listed[key] = await self.list_all(
                    Step.NEED,
                    (Role.READER, host_unit),
                    "/api/needs",
                    {"host_unit": host_unit, "sector": sector},
                )
        return imp._needs_listed[key]

    async def secondment(self, parsed: ParsedRow, need_id: str) -> dict[str, Any]:
        """The secondment: found by an earlier run, else decided now."""
        imp, official = self.importer, (parsed.home_unit, parsed.official_id)
        if official not in imp._secondments_of:
            imp._secondments_of[official] = await self.list_all(
                Step.SECONDMENT,
                (Role.HOME, parsed.home_unit),
                "/api/secondments",
                {"official_id": parsed.official_id},
            )
        known = imp._secondments_of[official]
        for item in known:
            decision = item.get("decision") or {}
            if (
                item.get("start_date") == parsed.start_date.isoformat()
                and str(decision.get("number", "")).strip() == parsed.decision_number
            ):
                self.result.found.append(Step.SECONDMENT)
                return item
        response = await self.send(
            Step.SECONDMENT,
            (Role.HOME, parsed.home_unit),
            "POST",
            "/api/secondments",
            json=parsed.secondment | {"need_id": need_id},
        )
        created: dict[str, Any] = response.json()
        known.append(created)
        self.result.recorded.append(Step.SECONDMENT)
        return created

    async def later_steps(self, parsed: ParsedRow, secondment: dict[str, Any]) -> None:
        """Reception, ending, post arrangement: each unless the row lacks it or it is recorded."""
        known = self.importer._secondments_of[(parsed.home_unit, parsed.official_id)]
        steps = (
            (Step.RECEPTION, "reception", "reception", parsed.reception),
            (Step.ENDING, "ending", "ending", parsed.ending),
            (Step.POST_ARRANGEMENT, "post_arrangement", "post-arrangement",
             parsed.post_arrangement),
        )  # fmt: skip
        for step, shown_as, path, body in steps:
            if body is None:
                continue
            if secondment.get(shown_as) is not None:
                self.result.found.append(step)
                continue
            auth: Auth = (
                (Role.HOST, secondment["host_unit"]["code"])
                if step is Step.RECEPTION
                else (Role.HOME, secondment["official"]["home_unit"]["code"])
            )
            url = f"/api/secondments/{secondment['secondment_id']}/{path}"
            updated: dict[str, Any] = (await self.send(step, auth, "POST", url, json=body)).json()
            known[known.index(secondment)] = updated
            secondment = updated
            self.result.recorded.append(step)


async def import_rows(
    rows: Iterable[SourceRow],
    client: httpx.AsyncClient,
    *,
    tokens: Tokens | None = None,
    on_row: Callable[[RowResult], None] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ImportReport:
    """Import rows through the API `client` points at (its `base_url`).

    Refusals are results, not exceptions; only an unreachable API or refused credentials
    stop the run (`ImportReport.aborted` says why). `tokens` gives each request its bearer
    token (none by default); `on_row` is called after each row (progress). Up to
    `concurrency` rows are in flight, each after the earlier rows of its need and official.
    """
    importer = Importer(client, tokens or NoTokens())
    report = ImportReport()
    started = time.monotonic()
    source = list(rows)
    results: list[RowResult | None] = [None] * len(source)
    gate = asyncio.Semaphore(max(1, concurrency))
    last_of: dict[object, asyncio.Event] = {}

    async def run(index: int, parsed: ParsedRow | None, waits: list[asyncio.Event]) -> None:
        for event in waits:
            await event.wait()
        async with gate:
            if report.aborted is not None:
                return
            try:
                result = await importer.import_row(source[index], parsed)
            except ImportAborted as exc:
                report.aborted = report.aborted or str(exc)
                return
        results[index] = result
        if on_row is not None:
            on_row(result)

    tasks = []
    for index, row in enumerate(source):
        try:
            parsed: ParsedRow | None = parse_row(row)
        except CellError:
            parsed = None  # refused by import_row without a request
        waits: list[asyncio.Event] = []
        mine = asyncio.Event()
        if parsed is not None:
            for key in (need_key(parsed), ("official", parsed.official_id)):
                if key in last_of:
                    waits.append(last_of[key])
                last_of[key] = mine
        tasks.append(asyncio.create_task(_signal(run(index, parsed, waits), mine)))
    await asyncio.gather(*tasks)
    report.results = [r for r in results if r is not None]
    report.seconds = time.monotonic() - started
    return report


async def _signal(work: Awaitable[None], done: asyncio.Event) -> None:
    """Run `work`, then set `done` whatever happened."""
    try:
        await work
    finally:
        done.set()
