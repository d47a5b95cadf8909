"""Signing in to the dashboard: `/login` keeps the caller's token in a session cookie
(Secure, HttpOnly, SameSite=Lax), so pages and export links need no header.

Two ways in: paste a token issued by the province's identity provider, or — where the
deployment configures them, as the embedded default does — a demo account. Failed attempts
are throttled per user name and per client address (`throttle.py`): past the limit, every
attempt is a 429 with `Retry-After`, whichever part was wrong and even with the right one.
"""

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.reporting.entrypoints.throttle import LoginThrottle, address_key, user_key
from shared.http.auth import Unauthenticated, current_principal

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
COOKIE = "session"


@dataclass(frozen=True)
class DemoAccount:
    """A sign-in of the embedded default (never configured in containers)."""

    username: str
    password: str
    label: str
    agency: str
    scopes: tuple[str, ...]


def _safe_next(target: str) -> str:
    """Only local paths: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _signed_in(target: str, token: str, max_age: int = 12 * 3600) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        COOKIE, token, max_age=max_age, secure=True, httponly=True, samesite="lax", path="/"
    )
    return response


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to sign in, then back."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here)}", status_code=303)


def _client_address(request: Request) -> str:
    """The address the server saw (behind a proxy, uvicorn's `--forwarded-allow-ips` makes it
    the client's)."""
    return request.client.host if request.client else "unknown"


def build_login_router(throttle: LoginThrottle | None = None) -> APIRouter:
    """`GET/POST /login`, `POST /logout`; `throttle` counts failed sign-ins (one per app)."""
    router = APIRouter(include_in_schema=False)
    failures = throttle if throttle is not None else LoginThrottle()

    def accounts(request: Request) -> list[DemoAccount]:
        return list(getattr(request.app.state, "demo_accounts", []))

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/", error: str = "") -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": error, "accounts": accounts(request)},
        )

    @router.post("/login")
    async def login(
        request: Request,
        next: Annotated[str, Form()] = "/",
        token: Annotated[str, Form()] = "",
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        keys = [address_key(_client_address(request))]
        if username:
            keys.append(user_key(username))
        wait = failures.retry_after(*keys)
        if wait is not None:
            # Before any check: the answer says nothing of the user, password or token.
            return TEMPLATES.TemplateResponse(
                request,
                "login.html",
                {"next": _safe_next(next), "error": "throttled", "accounts": accounts(request)},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        if username:
            for account in accounts(request):
                if account.username == username and hmac.compare_digest(
                    account.password.encode(), password.encode()
                ):
                    failures.succeeded(user_key(username))
                    token = request.app.state.dev_issuer.mint(
                        account.agency, account.scopes, subject=f"{account.username}@demo"
                    )
                    return _signed_in(next, token)
            failures.failed(*keys)
            return RedirectResponse(
                f"/login?error=account&next={quote(_safe_next(next))}", status_code=303
            )
        try:
            request.app.state.verifier.verify(token.strip())
        except Unauthenticated:
            failures.failed(*keys)
            return RedirectResponse(
                f"/login?error=token&next={quote(_safe_next(next))}", status_code=303
            )
        return _signed_in(next, token.strip())

    @router.post("/logout")
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
        return response

    return router


__all__ = ["COOKIE", "DemoAccount", "build_login_router", "current_principal", "login_redirect"]
