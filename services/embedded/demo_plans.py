"""Demo locality plans for `make run` (issue 13 item 2): each mountainous district's plan for
2024–2025, some adopted by the district, some by the Department of Home Affairs for it, two
amended by a later decision, and a few communes' plans for 2026–2030; one duplicate adoption
shows its refusal. Through the public HTTP API, like the rest of the demo."""

import datetime as dt
import random
from collections.abc import Callable

import httpx

PLANS_2024 = [
    "NAM_GIANG", "DONG_GIANG", "TAY_GIANG", "PHUOC_SON", "BAC_TRA_MY",
    "NAM_TRA_MY", "HIEP_DUC", "TIEN_PHUOC", "NONG_SON",
]  # fmt: skip
PLANS_2026 = ["XA_NAM_TRA_MY", "XA_TAY_GIANG", "XA_KHAM_DUC", "XA_THANH_MY"]
HOME_AFFAIRS = "SO_NOI_VU"


def _targets(counts: dict[int, int]) -> list[dict[str, object]]:
    """Officials per year; the first year names one for the health sector."""
    health = [{"sector": "HEALTH", "officials": 1}]
    return [
        {"year": y, "officials": n, "by_sector": health if i == 0 else []}
        for i, (y, n) in enumerate(sorted(counts.items()))
    ]


async def load_plans(
    client: httpx.AsyncClient,
    today: dt.date,
    planner: Callable[[str], dict[str, str]],
    seed: int = 2024,
) -> tuple[int, list[str]]:
    """Adopt and amend the demo plans decided by `today`, each signed by `planner(agency)`;
    (plans adopted, refusals)."""
    rng = random.Random(seed)
    adopted, refused = 0, []
    phases = (
        ("2024-2025", PLANS_2024, dt.date(2024, 2, 20), (2024, 2025), HOME_AFFAIRS),
        ("2026-2030", PLANS_2026, dt.date(2026, 1, 20), range(2026, 2031), "DN_SO_NOI_VU"),
    )
    for phase_id, homes, decided, years, home_affairs in phases:
        if decided > today:
            continue
        for i, home in enumerate(homes):
            by = home if i % 2 == 0 else home_affairs
            counts = {y: rng.randint(1, 2) for y in years}
            targets = _targets(counts)
            body = {
                "home_unit": home,
                "phase_id": phase_id,
                "targets": targets,
                "decision": {"number": f"{10 + i}/KH-UBND", "date": decided.isoformat()},
            }
            made = await client.post("/api/plans", json=body, headers=planner(by))
            made.raise_for_status()
            adopted += 1
            amended_on = decided.replace(year=decided.year + 1, month=1, day=15)
            if i in (0, 5) and amended_on <= today:
                more = _targets({y: n + 1 for y, n in counts.items()})
                amendment = {
                    "targets": more,
                    "decision": {"number": f"{3 + i}/KH-SNV", "date": amended_on.isoformat()},
                    "reason": "Điều chỉnh chỉ tiêu theo nhu cầu của các sở, ngành",
                }
                url = f"/api/plans/{made.json()['plan_id']}/amendments"
                answer = await client.post(url, json=amendment, headers=planner(by))
                answer.raise_for_status()
        if phase_id == "2024-2025":
            again = await client.post("/api/plans", json=body, headers=planner(home_affairs))
            if again.status_code < 400:
                raise RuntimeError("the demo expected PLAN_ALREADY_ADOPTED")
            refused.append(f"{again.json()['rule']}: {again.json()['detail']}")
    return adopted, refused
