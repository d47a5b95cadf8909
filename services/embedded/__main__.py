"""`make run`: the whole system in one process on http://127.0.0.1:8000, with demo data."""

import argparse
import asyncio
import contextlib
from pathlib import Path

import httpx

from services.embedded.app import create_embedded_app, keys_dir
from services.embedded.demo import Agencies, load_demo
from shared.clock import today
from shared.http.limits import HttpLimitSettings
from shared.http.server import Server
from shared.http.tokens import DEMO_IDENTITIES, DEMO_SIGN_INS, DevIssuer
from shared.infra import logs


async def _has_data(client: httpx.AsyncClient, agencies: Agencies) -> bool:
    for phase in ("2024-2025", "2026-2030"):
        ev = await client.get(
            f"/api/reports/phases/{phase}/evaluation?as_of=2030-12-31",
            headers=agencies.leadership(),
        )
        ev.raise_for_status()
        if ev.json()["needs"]["raised"]:
            return True
    return False


def _print_tokens(issuer: DevIssuer, data_dir: Path) -> None:
    """Ready-made development tokens for the demo agencies (valid 12 hours)."""
    print("\nDevelopment tokens (Authorization: Bearer …), valid 12 h:", flush=True)
    for who, (agency, scopes) in DEMO_IDENTITIES.items():
        token = issuer.mint(agency, scopes, subject=f"demo@{agency.lower()}")
        print(f"  {who} — {agency} [{' '.join(scopes)}]\n    {token}", flush=True)
    passwords = issuer.demo_passwords()
    print("Dashboard sign-ins (http://…/login):", flush=True)
    for user, (label, _agency, _scopes) in DEMO_SIGN_INS.items():
        print(f"  {label} — user {user}, password {passwords[user]}", flush=True)
    print(
        f"  more tokens: python -m shared.http.tokens --keys {keys_dir(data_dir)} "
        "--agency <UNIT_CODE> --scope <scope>",
        flush=True,
    )


async def main(host: str, port: int, data_dir: Path, demo: bool) -> None:
    """Serve; on first start (empty databases) load the demo through the API."""
    app = create_embedded_app(data_dir)
    config = HttpLimitSettings().uvicorn_config(
        app, host, port, log_level=logs.level("WARNING").lower()
    )
    server = Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            return
        await asyncio.sleep(0.05)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
        agencies = Agencies(app.state.dev_issuer)
        if demo and not await _has_data(client, agencies):
            print("Đang nạp dữ liệu mẫu / loading demo data …", flush=True)
            report = await load_demo(client, today(), agencies)
            print(
                f"  {report.needs} needs ({report.withdrawn} withdrawn), "
                f"{report.secondments} secondments ({report.extended} extended, "
                f"{report.ended} ended, {report.arranged} posts arranged, "
                f"{report.promoted_later} promoted after the return, "
                f"{report.cancelled} cancelled), {report.plans} locality plans, "
                f"{len(report.refused)} refused by the rules",
                flush=True,
            )
    _print_tokens(app.state.dev_issuer, data_dir)
    print(f"\nDashboard: http://{host}:{port}/   (API docs: http://{host}:{port}/docs)", flush=True)
    print(f"Data: {data_dir} (kept across restarts). Ctrl+C to stop.", flush=True)
    await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    logs.configure("embedded", default_level="WARNING")
    # Ctrl+C: uvicorn shuts down cleanly, then raises the signal again; no traceback for it.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port, args.data_dir, not args.no_demo))
