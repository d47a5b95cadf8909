"""A request body nested deeper than the JSON parser goes (issue 15, item 9) is an invalid
request (422) with its audit row, not a 500 that escapes the audit: the audit middleware read
the body with `json.loads`, whose RecursionError was not the ValueError it expected."""

from pathlib import Path

import httpx

from services.embedded.app import create_embedded_app


async def test_a_body_nested_past_the_parsers_depth_is_refused_as_invalid(tmp_path: Path) -> None:
    app = create_embedded_app(tmp_path / "var")
    async with app.router.lifespan_context(app):
        token = app.state.dev_issuer.mint("SO_Y_TE", ("needs:write",))
        dpo = app.state.dev_issuer.mint("SO_NOI_VU", ("audit:read",))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://e") as client:
            deep = b"[" * 50_000 + b"]" * 50_000
            answer = await client.post(
                "/api/needs",
                content=deep,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["rule"] == "INVALID_REQUEST"
            audit = await client.get("/api/audit", headers={"Authorization": f"Bearer {dpo}"})
            kept = [e for e in audit.json()["items"] if e["action"] == "RaiseNeed"]
            assert [(e["outcome"], e["rule"]) for e in kept] == [("REFUSED", "INVALID_REQUEST")]
            listed = await client.get("/api/needs", headers={"Authorization": f"Bearer {token}"})
            assert listed.json()["items"] == []
