"""Demo data for `make run`: a plausible phase 2024–2025 and the start of 2026–2030.

Everything goes through the public HTTP API (the same command path agencies use), so the
demo also shows refusals: a few requests are deliberately ineligible and are refused.
"""

import asyncio
import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.embedded.demo_plans import load_plans
from shared.http.tokens import DevIssuer
from shared.phases import add_months
from shared.reference import reference_data

log = logging.getLogger(__name__)

DISTRICTS_2024 = [
    "NAM_GIANG", "DONG_GIANG", "TAY_GIANG", "PHUOC_SON", "BAC_TRA_MY",
    "NAM_TRA_MY", "HIEP_DUC", "TIEN_PHUOC", "NONG_SON",
]  # fmt: skip
COMMUNES_2026 = [
    "XA_NAM_TRA_MY", "XA_TRA_TAP", "XA_TAY_GIANG", "XA_AVUONG", "XA_KHAM_DUC",
    "XA_THANH_MY", "XA_SONG_KON", "XA_TRA_MY", "XA_HIEP_DUC", "XA_TIEN_PHUOC",
]  # fmt: skip
HOSTS_2024 = [
    ("SO_NONG_NGHIEP_PTNT", "AGRICULTURE", "Phó Trưởng phòng Trồng trọt"),
    ("SO_Y_TE", "HEALTH", "Phó Trưởng phòng Nghiệp vụ Y"),
    ("SO_GIAO_DUC_DAO_TAO", "EDUCATION", "Phó Trưởng phòng Giáo dục dân tộc"),
    ("SO_NOI_VU", "HOME_AFFAIRS", "Phó Trưởng phòng Tổ chức biên chế"),
    ("SO_TAI_CHINH", "FINANCE", "Phó Trưởng phòng Ngân sách"),
    ("BAN_DAN_TOC", "ETHNIC_AFFAIRS", "Phó Trưởng phòng Chính sách"),
    ("SO_VAN_HOA_THE_THAO_DU_LICH", "CULTURE_TOURISM", "Phó Trưởng phòng Quản lý văn hóa"),
    ("SO_TAI_NGUYEN_MOI_TRUONG", "ENVIRONMENT", "Phó Trưởng phòng Đất đai"),
]
HOSTS_2026 = [
    ("DN_SO_NONG_NGHIEP_MOI_TRUONG", "AGRICULTURE", "Phó Trưởng phòng Phát triển nông thôn"),
    ("DN_SO_Y_TE", "HEALTH", "Phó Trưởng phòng Kế hoạch – Tài chính"),
    ("DN_SO_GIAO_DUC_DAO_TAO", "EDUCATION", "Phó Trưởng phòng Giáo dục phổ thông"),
    ("DN_SO_DAN_TOC_TON_GIAO", "ETHNIC_AFFAIRS", "Phó Trưởng phòng Chính sách dân tộc"),
]
PEOPLE = [
    ("CO_TU", None, ["Alăng Thị Hoa", "Bhriu Văn Liếc", "Zơ Râm Thị Đào", "Clâu Nhân",
                     "Ating Văn Thơ", "Bling Thị Mai"]),
    ("XO_DANG", "CA_DONG", ["Hồ Văn Tư", "Hồ Thị Bích", "Hồ Văn Năm", "Đinh Thị Hiền"]),
    ("GIE_TRIENG", "VE", ["A Lăng Văn Hùng", "Hồ Thị Nươi", "Zơ Râm Đức"]),
    ("CO", None, ["Hồ Văn Thanh", "Đinh Thị Lý"]),
    ("KINH", None, ["Nguyễn Văn An"]),
]  # fmt: skip


RATINGS = ["EXCELLENT", "GOOD", "GOOD", "COMPLETED", "NOT_COMPLETED"]


@dataclass
class DemoReport:
    """What the loader did."""

    needs: int = 0
    secondments: int = 0
    extended: int = 0
    ended: int = 0
    arranged: int = 0
    promoted_later: int = 0
    cancelled: int = 0
    withdrawn: int = 0
    plans: int = 0
    refused: list[str] = field(default_factory=list)


class Agencies:
    """Tokens of the demo agencies, minted by the embedded default's development issuer."""

    def __init__(self, issuer: DevIssuer) -> None:
        self._issuer = issuer
        self._cache: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}

    def _headers(self, agency: str, scopes: tuple[str, ...]) -> dict[str, str]:
        key = (agency, scopes)
        if key not in self._cache:
            token = self._issuer.mint(agency, scopes, subject=f"demo@{agency.lower()}")
            self._cache[key] = {"Authorization": f"Bearer {token}"}
        return self._cache[key]

    def host(self, agency: str) -> dict[str, str]:
        """A host department: raises its needs, receives officials."""
        return self._headers(agency, ("needs:write", "reception:write"))

    def home(self, agency: str) -> dict[str, str]:
        """A home authority: seconds its officials and follows them up."""
        return self._headers(agency, ("secondments:write",))

    def planner(self, agency: str) -> dict[str, str]:
        """A locality, or the Department of Home Affairs, recording a secondment plan."""
        return self._headers(agency, ("plans:write",))

    def leadership(self) -> dict[str, str]:
        """Leadership reads the reports."""
        return self._headers("UBND_TINH", ("reports:read",))


async def _post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """POST, waiting out `NEED_NOT_YET_KNOWN` (the placement service catching up)."""
    for _ in range(100):
        response = await client.post(url, json=body, headers=headers)
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.05)
    return response


def _official(rng: random.Random, serial: int, home: str, rank: str) -> dict[str, Any]:
    ethnicity, subgroup, names = rng.choice(PEOPLE[:-1])
    name = rng.choice(names)
    return {
        "official_id": f"CB-{serial:05d}",
        "full_name": name,
        "gender": "F" if " Thị " in f" {name} " else "M",
        "birth_date": dt.date(
            rng.randint(1972, 1992), rng.randint(1, 12), rng.randint(1, 28)
        ).isoformat(),
        "ethnicity": ethnicity,
        "ethnic_subgroup": subgroup,
        "service_category": rng.choice(
            ["CADRE", "CIVIL_SERVANT", "CIVIL_SERVANT", "PUBLIC_EMPLOYEE"]
        ),
        "position_rank": rank,
        "home_unit": home,
    }


async def load_demo(
    client: httpx.AsyncClient, today: dt.date, agencies: Agencies, seed: int = 2024
) -> DemoReport:
    """Raise needs, second officials, end finished secondments; all through the API, each
    request signed by the agency that would send it."""
    rng = random.Random(seed)
    report = DemoReport()
    serial = 0
    waves = [
        (HOSTS_2024, DISTRICTS_2024,
         ["PHO_TRUONG_PHONG", "TRUONG_PHONG", "PHO_CHU_TICH_UBND_HUYEN"],
         [dt.date(2024, 3, 1), dt.date(2024, 7, 1), dt.date(2025, 1, 6)]),
        (HOSTS_2026, COMMUNES_2026, ["PHO_TRUONG_PHONG", "PHO_CHU_TICH_UBND_XA"],
         [dt.date(2026, 2, 2), dt.date(2026, 8, 3)]),
    ]  # fmt: skip
    for hosts, homes, ranks, starts in waves:
        for start in starts:
            for host, sector, title in hosts:
                if host.startswith("SO_") and start >= dt.date(2025, 1, 1) and host in (
                    "BAN_DAN_TOC", "SO_TAI_NGUYEN_MOI_TRUONG", "SO_NONG_NGHIEP_PTNT"
                ):  # fmt: skip
                    continue  # merged in the first wave of 2025
                raised_on = start - dt.timedelta(days=rng.randint(30, 60))
                if raised_on > today:
                    continue
                positions = rng.choice([1, 1, 2, 2, 3])
                need = await client.post(
                    "/api/needs",
                    json={
                        "host_unit": host, "sector": sector, "position_title": title,
                        "positions": positions, "min_rank": "PHO_TRUONG_PHONG",
                        "desired_start": start.isoformat(), "duration_months": 6,
                        "description": "Nhu cầu biệt phái theo Kế hoạch của UBND tỉnh",
                        "raised_on": raised_on.isoformat(),
                    },
                    headers=agencies.host(host),
                )  # fmt: skip
                need.raise_for_status()
                report.needs += 1
                need_id = need.json()["need_id"]
                for _ in range(rng.randint(0, positions)):
                    serial += 1
                    decided = start - dt.timedelta(days=rng.randint(5, 15))
                    months = rng.choice([3, 4, 6, 6])
                    end = add_months(start, months) - dt.timedelta(days=1)
                    home = rng.choice(
                        [h for h in homes if not (h == "NONG_SON" and decided.year > 2024)]
                    )
                    body = {
                        "need_id": need_id,
                        "official": _official(rng, serial, home, rng.choice(ranks)),
                        "start_date": start.isoformat(),
                        "planned_end_date": end.isoformat(),
                        "decision": {"number": f"{serial}/QĐ-UBND", "date": decided.isoformat(),
                                     "signed_by": "Chủ tịch UBND huyện"},
                    }  # fmt: skip
                    made = await _post(client, "/api/secondments", body, agencies.home(home))
                    if made.status_code != 201:
                        report.refused.append(
                            f"{made.json().get('rule')}: {made.json().get('detail')}"
                        )
                        continue
                    report.secondments += 1
                    await _live_through(
                        client, agencies, rng, made.json(), end, serial, today, report
                    )
    report.plans, refused = await load_plans(client, today, agencies.planner)
    report.refused.extend(refused)
    await _refusals(client, agencies, report)
    return report


ARRANGEMENTS = ["RETURNED_TO_FORMER_POST", "RETURNED_TO_FORMER_POST", "PROMOTED", "TRANSFERRED"]
PROMOTION = {"PHO_TRUONG_PHONG": "TRUONG_PHONG", "TRUONG_PHONG": "PHO_CHU_TICH_UBND_HUYEN",
             "PHO_CHU_TICH_UBND_HUYEN": "CHU_TICH_UBND_HUYEN",
             "PHO_CHU_TICH_UBND_XA": "CHU_TICH_UBND_XA"}  # fmt: skip
POST_TITLES = {"RETURNED_TO_FORMER_POST": "Phó Trưởng phòng Nội vụ (vị trí cũ)",
               "PROMOTED": "Trưởng phòng Tài chính – Kế hoạch",
               "TRANSFERRED": "Phó Trưởng phòng Văn hóa, Khoa học và Thông tin"}  # fmt: skip


def _destination(home: str, on: dt.date) -> str | None:
    """Where the official works after the return: the home unit, or after the 2025 reform its
    first successor valid then (a district's officials go to a commune)."""
    ref = reference_data()
    if ref.unit(home, on) is not None:
        return home
    successors = ref.successors(home, on=on)
    return successors[0].code if successors else None


async def _live_through(
    client: httpx.AsyncClient,
    agencies: Agencies,
    rng: random.Random,
    made: dict[str, Any],
    end: dt.date,
    serial: int,
    today: dt.date,
    report: DemoReport,
) -> None:
    """Reception, sometimes an extension or a cancellation, the ending, the post after."""
    url = f"/api/secondments/{made['secondment_id']}"
    start = dt.date.fromisoformat(made["start_date"])
    host = agencies.host(made["host_unit"]["code"])
    home = agencies.home(made["official"]["home_unit"]["code"])
    if serial % 12 == 5:  # a record entered by mistake, voided
        cancel = {"reason": "Nhập nhầm hồ sơ, hủy theo đề nghị của cơ quan cử"}
        (await client.post(f"{url}/cancellation", json=cancel, headers=home)).raise_for_status()
        report.cancelled += 1
        return
    received_on = start + dt.timedelta(days=rng.randint(0, 3))
    if received_on <= today:
        reception = {"received_on": received_on.isoformat(),
                     "assigned_role": "Phụ trách công tác chuyên môn của phòng"}  # fmt: skip
        (await client.post(f"{url}/reception", json=reception, headers=host)).raise_for_status()
    cap_end = add_months(start, 6) - dt.timedelta(days=1)
    if end < cap_end and rng.random() < 0.3:
        decided = min(end, today) - dt.timedelta(days=10)
        decision = {"number": f"{serial}/QĐ-GH", "date": decided.isoformat()}
        extension = {"new_planned_end_date": cap_end.isoformat(), "decision": decision}
        (await client.post(f"{url}/extension", json=extension, headers=home)).raise_for_status()
        report.extended += 1
        end = cap_end
    if end >= today:
        return
    early = rng.random() < 0.15
    ended_on = end - dt.timedelta(days=rng.randint(20, 40)) if early else end
    ending = {
        "ended_on": ended_on.isoformat(),
        "reason": "TERMINATED_EARLY" if early else "COMPLETED",
        "rating": rng.choice(RATINGS),
        "remarks": "Hoàn thành nhiệm vụ được giao" if not early else "Kết thúc sớm theo đề nghị",
        "decision": {"number": f"{serial}/QĐ-KT",
                     "date": (ended_on - dt.timedelta(days=7)).isoformat()},
    }  # fmt: skip
    (await client.post(f"{url}/ending", json=ending, headers=home)).raise_for_status()
    report.ended += 1
    effective = ended_on + dt.timedelta(days=rng.randint(1, 20))
    if effective >= today:
        return
    body = (await client.get(url, headers=home)).json()
    arrangement = rng.choice(ARRANGEMENTS)
    rank = PROMOTION.get(body["official"]["position_rank"])
    if arrangement == "PROMOTED" and rank and reference_data().rank(rank, effective):
        post = {"arrangement": "PROMOTED", "new_position_rank": rank}
    else:
        post = {
            "arrangement": "RETURNED_TO_FORMER_POST" if arrangement == "PROMOTED" else arrangement
        }
    post["effective_date"] = effective.isoformat()
    # Destination, post and any later promotion draw from a stream of their own, so every
    # other demo record stays as it was before they existed.
    after = random.Random(f"after-{serial}")
    destination = _destination(made["official"]["home_unit"]["code"], effective)
    if destination is not None:
        post |= {"destination_unit": destination, "post_title": POST_TITLES[post["arrangement"]]}
    (await client.post(f"{url}/post-arrangement", json=post, headers=home)).raise_for_status()
    report.arranged += 1
    higher = PROMOTION.get(post.get("new_position_rank") or body["official"]["position_rank"])
    promoted_on = effective + dt.timedelta(days=after.randint(45, 240))
    new_rank = reference_data().rank(higher, promoted_on) if higher else None
    if higher is None or new_rank is None or after.random() < 0.4 or promoted_on >= today:
        return
    decided = promoted_on - dt.timedelta(days=after.randint(3, 10))
    promotion: dict[str, Any] = {
        "new_position_rank": higher,
        "promoted_on": promoted_on.isoformat(),
        "decision": {"number": f"{serial}/QĐ-BN", "date": decided.isoformat()},
    }
    place = _destination(made["official"]["home_unit"]["code"], promoted_on)
    if place is not None:
        promotion |= {"destination_unit": place, "post_title": new_rank.name}
    answer = await client.post(f"{url}/promotion", json=promotion, headers=home)
    answer.raise_for_status()
    report.promoted_later += 1


async def _refusals(client: httpx.AsyncClient, agencies: Agencies, report: DemoReport) -> None:
    """Requests the plan forbids, to show the rules at work."""
    need = await client.post(
        "/api/needs",
        json={
            "host_unit": "SO_Y_TE", "sector": "HEALTH", "position_title": "Phó Trưởng phòng",
            "positions": 2, "min_rank": "TRUONG_PHONG", "desired_start": "2024-10-01",
            "duration_months": 6, "raised_on": "2024-08-15",
        },
        headers=agencies.host("SO_Y_TE"),
    )  # fmt: skip
    need.raise_for_status()
    report.needs += 1
    base = {
        "need_id": need.json()["need_id"],
        "start_date": "2024-10-01",
        "planned_end_date": "2025-03-31",
        "decision": {"number": "99/QĐ-UBND", "date": "2024-09-20"},
    }
    kinh = _official(random.Random(1), 90001, "NAM_GIANG", "TRUONG_PHONG") | {
        "ethnicity": "KINH", "ethnic_subgroup": None, "full_name": "Nguyễn Văn An",
    }  # fmt: skip
    lowland = _official(random.Random(2), 90002, "TAM_KY", "TRUONG_PHONG")
    junior = _official(random.Random(3), 90003, "TAY_GIANG", "PHO_TRUONG_PHONG")
    too_long = _official(random.Random(4), 90004, "NAM_TRA_MY", "TRUONG_PHONG")
    for official, extra in (
        (kinh, {}),
        (lowland, {}),
        (junior, {}),
        (too_long, {"planned_end_date": "2025-06-30"}),
    ):
        refused = await _post(
            client,
            "/api/secondments",
            base | {"official": official} | extra,
            agencies.home(official["home_unit"]),
        )
        if refused.status_code < 400:
            raise RuntimeError(f"the demo expected a refusal, got {refused.status_code}")
        report.refused.append(f"{refused.json()['rule']}: {refused.json()['detail']}")
    withdrawal = {"withdrawn_on": "2024-09-10", "reason": "Đơn vị đã tự bố trí được cán bộ"}
    withdrawn = await client.post(
        f"/api/needs/{need.json()['need_id']}/withdrawal",
        json=withdrawal,
        headers=agencies.host("SO_Y_TE"),
    )
    withdrawn.raise_for_status()
    report.withdrawn += 1
