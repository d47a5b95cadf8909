"""Dashboard labels (Vietnamese first) and Vietnamese number and date formats."""

import datetime as dt
from typing import Final

LABELS: Final[dict[str, dict[str, str]]] = {
    "vi": {
        "title": "Biệt phái cán bộ người dân tộc thiểu số — Đánh giá giai đoạn",
        "phase": "Giai đoạn",
        "as_of": "Tính đến ngày",
        "show": "Xem",
        "needs": "Nhu cầu tiếp nhận",
        "raised": "Đã đăng ký",
        "withdrawn": "Đã rút",
        "filled": "Đã đủ",
        "open": "Còn mở",
        "positions_requested": "Số vị trí đề nghị",
        "positions_filled": "Số vị trí đã bố trí",
        "fill_rate": "Tỷ lệ đáp ứng",
        "secondments": "Cán bộ biệt phái",
        "started": "Đã cử",
        "active": "Đang biệt phái",
        "ended": "Đã kết thúc",
        "completed": "Hoàn thành thời hạn",
        "terminated_early": "Kết thúc trước hạn",
        "overdue": "Quá hạn chưa kết thúc",
        "officials": "Số cán bộ",
        "switch": "English",
    },
    "en": {
        "title": "Secondment of ethnic-minority officials — Phase evaluation",
        "phase": "Phase",
        "as_of": "As of",
        "show": "Show",
        "needs": "Needs",
        "raised": "Raised",
        "withdrawn": "Withdrawn",
        "filled": "Filled",
        "open": "Open",
        "positions_requested": "Positions requested",
        "positions_filled": "Positions filled",
        "fill_rate": "Fill rate",
        "secondments": "Secondments",
        "started": "Started",
        "active": "Active",
        "ended": "Ended",
        "completed": "Completed on time",
        "terminated_early": "Terminated early",
        "overdue": "Overdue",
        "officials": "Officials",
        "switch": "Tiếng Việt",
    },
}


def format_number(value: float | int | None, lang: str = "vi") -> str:
    """1234567.5 → "1.234.567,5" in Vietnamese; "1,234,567.5" in English; "—" for null."""
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    if lang == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_date(value: dt.date, lang: str = "vi") -> str:
    """dd/mm/yyyy in Vietnamese, ISO in English."""
    return value.strftime("%d/%m/%Y") if lang == "vi" else value.isoformat()
