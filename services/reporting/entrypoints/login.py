"""Signing in to the dashboard: `/login` keeps the caller's token in a session cookie
(`__Host-session`: Secure, HttpOnly, SameSite=Strict, this host only), so pages and export
links need no header. The cookie is taken for dashboard and export *reads* only
(`shared.http.auth.session_principal`); `/logout` signs the session out on the server too
(`SignedOutSessions`), so a copied cookie stops working at once.

The forms (`/login`, `/logout`) are protected against cross-site requests twice: the request
must come from this origin (`Origin`, else `Referer`), and carry the CSRF token of the
`__Host-csrf` cookie (double submit), which another site can neither read nor set.

Two ways in: paste a token issued by the province's identity provider, or — where the
deployment configures them, as the embedded default does — a demo account. Failed attempts
are throttled per user name and per client address (`throttle.py`): past the limit, every
attempt is a 429 with `Retry-After`, whichever part was wrong and even with the right one.
"""

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Protocol
from urllib.parse import quote, urlsplit

import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.reporting.entrypoints.templating import TEMPLATES
from services.reporting.entrypoints.throttle import LoginThrottle, address_key, user_key
from shared.http.auth import SESSION_COOKIE, Unauthenticated, current_principal

COOKIE = SESSION_COOKIE
CSRF_COOKIE = "__Host-csrf"


class SessionStore(Protocol):
    """Where signed-out sessions are kept (`adapters/sessions.py`)."""

    async def revoke(self, token: str, expires_at: dt.datetime) -> None: ...

    async def is_revoked(self, token: str) -> bool: ...


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: the one of its cookie, or a new one (set by `with_csrf`)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def with_csrf(response: Response, token: str) -> Response:
    """Set the CSRF cookie the forms of `response` carry the token of."""
    response.set_cookie(CSRF_COOKIE, token, secure=True, httponly=True, samesite="strict", path="/")
    return response


def _same_origin(request: Request) -> bool:
    """The form was posted from a page of this site (by `Origin`, else `Referer`). Hosts
    (with port) are compared, not schemes: behind a proxy that ends TLS the service sees
    http where the browser sent https."""
    host = request.headers.get("host", request.url.netloc).lower()
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        origin = request.headers.get("referer")
    return origin is not None and urlsplit(origin).netloc.lower() == host


def _forged(request: Request, form_token: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    token_ok = bool(cookie) and hmac.compare_digest(cookie.encode(), form_token.encode())
    return not (token_ok and _same_origin(request))


def _forbidden() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><p>Yêu cầu không hợp lệ (không cùng nguồn). / Cross-site request refused.",
        status_code=403,
    )


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


def _expiry(token: str) -> dt.datetime:
    """When a token (verified already) expires."""
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
    return dt.datetime.fromtimestamp(float(exp), dt.UTC)


def _signed_in(target: str, token: str) -> Response:
    response = RedirectResponse(_safe_next(target), status_code=303)
    max_age = max(0, int((_expiry(token) - dt.datetime.now(dt.UTC)).total_seconds()))
    response.set_cookie(
        COOKIE, token, max_age=max_age, secure=True, httponly=True, samesite="strict", path="/"
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


def build_login_router(sessions: SessionStore, throttle: LoginThrottle | None = None) -> APIRouter:
    """`GET/POST /login`, `POST /logout`; `throttle` counts failed sign-ins (one per app),
    `sessions` keeps the signed-out ones."""
    router = APIRouter(include_in_schema=False)
    failures = throttle if throttle is not None else LoginThrottle()

    def accounts(request: Request) -> list[DemoAccount]:
        return list(getattr(request.app.state, "demo_accounts", []))

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/", error: str = "") -> Response:
        csrf = csrf_token(request)
        page = TEMPLATES.TemplateResponse(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "error": error,
                "accounts": accounts(request),
                "csrf": csrf,
            },
        )
        return with_csrf(page, csrf)

    @router.post("/login")
    async def login(
        request: Request,
        next: Annotated[str, Form()] = "/",
        token: Annotated[str, Form()] = "",
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        if _forged(request, csrf):
            return _forbidden()  # login CSRF: never sign a browser in to someone else's session
        keys = [address_key(_client_address(request))]
        if username:
            keys.append(user_key(username))
        wait = failures.retry_after(*keys)
        if wait is not None:
            # Before any check: the answer says nothing of the user, password or token.
            return TEMPLATES.TemplateResponse(
                request,
                "login.html",
                {
                    "next": _safe_next(next),
                    "error": "throttled",
                    "accounts": accounts(request),
                    "csrf": csrf,
                },
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
    async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        if _forged(request, csrf):
            return _forbidden()
        token = request.cookies.get(COOKIE)
        if token:
            try:
                expires = _expiry(token)
            except jwt.PyJWTError:
                expires = dt.datetime.now(dt.UTC)  # not a token: nothing to sign out
            await sessions.revoke(token, expires)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    return router


__all__ = [
    "COOKIE",
    "DemoAccount",
    "SessionStore",
    "build_login_router",
    "csrf_token",
    "current_principal",
    "login_redirect",
    "with_csrf",
]
