"""One example of every event of contract v1, as it travels: the published AsyncAPI document
shows them, and a test checks each against its model.

They tell one story: Sở Y tế (Department of Health) raises a need, Nam Giang seconds a Cơ Tu
official to it, the host receives her, the secondment is extended, ends and is followed by a
post, and later by a promotion. The official is fictional. Nam Giang's plan for the phase
(adopted, then amended) is the locality's own target for such secondments.
"""

import datetime as dt
from typing import Any, Final, NamedTuple
from uuid import UUID

from shared.contract.envelope import CloudEvent
from shared.contract.topics import NEEDS_SOURCE, NEEDS_TOPIC, PLACEMENT_SOURCE, TOPIC_OF_EVENT

NEED_ID: Final = "5b0f8a52-7a3e-4d8c-9a4e-2f6f3b1c0d11"
SECONDMENT_ID: Final = "9d3c2e71-4b6a-4f0e-8c1d-7a2b5e6f4a30"
PLAN_ID: Final = "0e7b6c2a-3f41-4d5e-9b8a-6c1d2e3f4a50"
HOST: Final = {"code": "SO_Y_TE", "name": "Sở Y tế"}
HOME: Final = {"code": "NAM_GIANG", "name": "Huyện Nam Giang"}
ICT: Final = dt.timezone(dt.timedelta(hours=7), "ICT")


class Example(NamedTuple):
    """Event data and the envelope attributes that vary: when, which version, who."""

    data: dict[str, Any]
    time: dt.datetime
    aggregateversion: int
    actor: str


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T09:30:00").replace(tzinfo=ICT)


EXAMPLES: Final[dict[str, Example]] = {
    "NeedRaised": Example(
        {
            "need_id": NEED_ID,
            "host_unit": HOST,
            "sector": "HEALTH",
            "position_title": "Phó Trưởng phòng Nghiệp vụ Y",
            "positions": 2,
            "min_rank": "PHO_TRUONG_PHONG",
            "desired_start": "2024-09-01",
            "duration_months": 6,
            "description": "Tăng cường cán bộ người dân tộc thiểu số cho y tế miền núi",
            "raised_on": "2024-08-01",
        },
        _at("2024-08-01"),
        1,
        "SO_Y_TE",
    ),
    "NeedAmended": Example(
        {
            "need_id": NEED_ID,
            "amended_on": "2024-08-05",
            "positions": 3,
            "description": "Bổ sung một vị trí cho Trung tâm Y tế huyện",
        },
        _at("2024-08-05"),
        2,
        "SO_Y_TE",
    ),
    "NeedWithdrawn": Example(
        {
            "need_id": NEED_ID,
            "withdrawn_on": "2024-10-01",
            "reason": "Đã bố trí đủ nhân sự tại chỗ",
            "positions_filled": 1,
        },
        _at("2024-10-01"),
        4,
        "SO_Y_TE",
    ),
    "NeedFilled": Example(
        {"need_id": NEED_ID, "filled_on": "2024-08-25", "positions": 3},
        _at("2024-08-25"),
        3,
        "needs",
    ),
    "NeedReopened": Example(
        {"need_id": NEED_ID, "reopened_on": "2024-09-10", "positions_filled": 2},
        _at("2024-09-10"),
        4,
        "needs",
    ),
    "OfficerSeconded": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "need_id": NEED_ID,
            "official": {
                "official_id": "NG-0001",
                "full_name": "Alăng Thị Hoa",
                "gender": "F",
                "birth_date": "1985-03-02",
                "ethnicity": "CO_TU",
                "ethnic_subgroup": None,
                "service_category": "CIVIL_SERVANT",
                "position_rank": "PHO_TRUONG_PHONG",
                "home_unit": HOME,
            },
            "host_unit": HOST,
            "sector": "HEALTH",
            "start_date": "2024-09-01",
            "planned_end_date": "2025-01-31",
            "decision": {
                "number": "123/QĐ-UBND",
                "date": "2024-08-20",
                "signed_by": "Chủ tịch UBND huyện Nam Giang",
            },
        },
        _at("2024-08-20"),
        1,
        "NAM_GIANG",
    ),
    "OfficialReceived": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "received_on": "2024-09-03",
            "assigned_role": "Phó Trưởng phòng Nghiệp vụ Y",
            "supervisor": "Trưởng phòng Nghiệp vụ Y",
        },
        _at("2024-09-03"),
        2,
        "SO_Y_TE",
    ),
    "SecondmentExtended": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "new_planned_end_date": "2025-02-28",
            "decision": {"number": "210/QĐ-UBND", "date": "2025-01-15", "signed_by": None},
        },
        _at("2025-01-15"),
        3,
        "NAM_GIANG",
    ),
    "SecondmentEnded": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "official_id": "NG-0001",
            "ended_on": "2025-02-28",
            "reason": "COMPLETED",
            "rating": "GOOD",
            "remarks": "Hoàn thành tốt nhiệm vụ được giao",
            "decision": {"number": "45/QĐ-UBND", "date": "2025-02-20", "signed_by": None},
        },
        _at("2025-02-20"),
        4,
        "NAM_GIANG",
    ),
    "PostSecondmentArranged": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "official_id": "NG-0001",
            "arrangement": "RETURNED_TO_FORMER_POST",
            "new_position_rank": None,
            "effective_date": "2025-03-01",
            "destination_unit": HOME,
            "post_title": "Phó Trưởng phòng Y tế",
        },
        _at("2025-02-25"),
        5,
        "NAM_GIANG",
    ),
    "OfficialPromotedAfterReturn": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "official_id": "NG-0001",
            "new_position_rank": "TRUONG_PHONG",
            "promoted_on": "2025-09-01",
            "destination_unit": HOME,
            "post_title": "Trưởng phòng Y tế",
            "decision": {"number": "120/QĐ-UBND", "date": "2025-08-25", "signed_by": None},
        },
        _at("2025-08-25"),
        6,
        "NAM_GIANG",
    ),
    "SecondmentCancelled": Example(
        {
            "secondment_id": SECONDMENT_ID,
            "need_id": NEED_ID,
            "reason": "Nhập nhầm số quyết định",
            "cancelled_on": "2024-08-22",
        },
        _at("2024-08-22"),
        2,
        "NAM_GIANG",
    ),
    "SecondmentPlanAdopted": Example(
        {
            "plan_id": PLAN_ID,
            "home_unit": HOME,
            "phase_id": "2024-2025",
            "targets": [
                {"year": 2024, "officials": 3, "by_sector": [{"sector": "HEALTH", "officials": 1}]},
                {"year": 2025, "officials": 4, "by_sector": []},
            ],
            "decision": {"number": "112/KH-UBND", "date": "2024-07-25", "signed_by": None},
        },
        _at("2024-07-25"),
        1,
        "NAM_GIANG",
    ),
    "SecondmentPlanAmended": Example(
        {
            "plan_id": PLAN_ID,
            "targets": [
                {"year": 2024, "officials": 3, "by_sector": [{"sector": "HEALTH", "officials": 1}]},
                {"year": 2025, "officials": 6, "by_sector": []},
            ],
            "decision": {"number": "20/KH-UBND", "date": "2025-01-15", "signed_by": None},
            "reason": "Bổ sung chỉ tiêu năm 2025 theo nhu cầu của các sở",
        },
        _at("2025-01-15"),
        2,
        "SO_NOI_VU",
    ),
}
"""Event type → example."""


def example_envelope(event_type: str) -> dict[str, Any]:
    """The example of `event_type` as a whole CloudEvent, in its JSON form."""
    example = EXAMPLES[event_type]
    on_needs = TOPIC_OF_EVENT[event_type] == NEEDS_TOPIC
    subject = NEED_ID if on_needs else str(example.data.get("plan_id", SECONDMENT_ID))
    number = sorted(EXAMPLES).index(event_type) + 1
    envelope = CloudEvent(
        id=UUID(f"0190f4a0-0000-7000-8000-{number:012d}"),
        source=NEEDS_SOURCE if on_needs else PLACEMENT_SOURCE,
        type=event_type,
        subject=subject,
        time=example.time,
        data=example.data,
        aggregateversion=example.aggregateversion,
        correlationid=f"req-{example.time:%Y%m%d}-{number:03d}",
        causationid=f"req-{example.time:%Y%m%d}-{number:03d}",
        actor=example.actor,
    )
    out: dict[str, Any] = envelope.model_dump(mode="json")
    return out
