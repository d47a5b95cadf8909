"""A browser on the dashboard for httpx tests: its form posts to `/login` and `/logout` are
same-origin (`Origin`) and carry the CSRF token of its `__Host-csrf` cookie, as the pages'
forms do; `forged_post` is what another site's page can make the same browser send."""

from typing import Any

import httpx

FORMS = ("/login", "/logout")


class Browser(httpx.AsyncClient):
    """`httpx.AsyncClient` posting the dashboard's forms the way its pages do."""

    async def post(  # type: ignore[override]
        self, url: str, *, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        if url in FORMS:
            if "__Host-csrf" not in self.cookies:
                await self.get("/login")
            data = {**(data or {}), "csrf": self.cookies["__Host-csrf"]}
            origin = str(self.base_url).rstrip("/")
            kwargs["headers"] = {"Origin": origin, **(kwargs.get("headers") or {})}
        return await super().post(url, data=data, **kwargs)

    async def forged_post(
        self, url: str, data: dict[str, Any], origin: str = "https://evil.example"
    ) -> httpx.Response:
        """A cross-site form post: the browser sends its cookies (unless SameSite stops
        them), another `Origin`, and whatever CSRF token the other site could guess."""
        return await super().post(url, data=data, headers={"Origin": origin})
