"""Valid request bodies to start from; tests change one thing to see one rule at work."""

import json
from typing import Any


def need_body(**changes: Any) -> dict[str, Any]:
    """A need the rules accept: Sở Y tế, 2 positions, raised in phase 2024–2025."""
    body: dict[str, Any] = {
        "host_unit": "SO_Y_TE",
        "sector": "HEALTH",
        "position_title": "Phó Trưởng phòng Nghiệp vụ Y",
        "positions": 2,
        "min_rank": "PHO_TRUONG_PHONG",
        "desired_start": "2024-09-01",
        "duration_months": 6,
        "description": "Tăng cường cán bộ người dân tộc thiểu số",
        "raised_on": "2024-08-01",
    }
    return body | changes


def official_body(**changes: Any) -> dict[str, Any]:
    """An eligible official: Cơ Tu, deputy head of division, from Nam Giang."""
    body: dict[str, Any] = {
        "official_id": "NG-0001",
        "full_name": "Alăng Thị Hoa",
        "gender": "F",
        "birth_date": "1985-03-02",
        "ethnicity": "CO_TU",
        "service_category": "CIVIL_SERVANT",
        "position_rank": "PHO_TRUONG_PHONG",
        "home_unit": "NAM_GIANG",
    }
    return body | changes


def secondment_body(need_id: str, **changes: Any) -> dict[str, Any]:
    """Six months exactly, 2024-09-01 → 2025-02-28, decided 2024-08-20."""
    body: dict[str, Any] = {
        "need_id": need_id,
        "official": official_body(),
        "start_date": "2024-09-01",
        "planned_end_date": "2025-02-28",
        "decision": {"number": "123/QĐ-UBND", "date": "2024-08-20", "signed_by": "Chủ tịch UBND"},
    }
    return body | changes


def ending_body(**changes: Any) -> dict[str, Any]:
    """Completed on time, rated GOOD."""
    body: dict[str, Any] = {
        "ended_on": "2025-02-28",
        "reason": "COMPLETED",
        "rating": "GOOD",
        "remarks": "Hoàn thành tốt nhiệm vụ được giao",
        "decision": {"number": "45/QĐ-UBND", "date": "2025-02-20"},
    }
    return body | changes


def agency_command(
    agency: str,
    kind: str,
    data: dict[str, Any],
    command_id: str,
    attrs: dict[str, Any] | None = None,
) -> bytes:
    """A command as an agency writes it on its commands topic (CloudEvents, structured JSON);
    `attrs` adds or replaces envelope attributes."""
    envelope = {
        "specversion": "1.0",
        "id": command_id,
        "source": f"/agencies/{agency}/tests",
        "type": kind,
        "datacontenttype": "application/json",
        "data": data,
    }
    return json.dumps(envelope | (attrs or {})).encode()
