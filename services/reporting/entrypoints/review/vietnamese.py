"""Vietnamese for sentences built from figures: lists, counts, percentages, comparisons, and
unit names as they read inside a sentence ("huyện Nam Giang", not "Huyện Nam Giang")."""

import datetime as dt

from services.reporting.domain.evaluation import DurationStats
from services.reporting.entrypoints.i18n import format_date, format_number, format_percent

MAX_NAMED = 8
"""A list names at most this many and counts the rest ("và 3 địa phương khác")."""


def num(value: float | int | None) -> str:
    """1234 → "1.234", 12.5 → "12,5" (the dashboard's format)."""
    return format_number(value, "vi")


def pct(value: float | None) -> str:
    """0.25 → "25 %" (the dashboard's format)."""
    return format_percent(value, "vi")


def points(difference: float) -> str:
    """A difference of two rates in percentage points, without its sign."""
    return f"{num(round(abs(difference) * 100, 2))} điểm phần trăm"


def days(d: DurationStats, lead: str = "bình quân") -> str:
    """ "bình quân 12 ngày (trung vị 10 ngày, dài nhất 30 ngày)": a duration's figures as
    every finding on one states them."""
    return f"{lead} {num(d.mean)} ngày (trung vị {num(d.median)} ngày, dài nhất {num(d.max)} ngày)"


def listing(items: list[str], noun: str = "") -> str:
    """ "A", "A và B", "A, B và C"; beyond `MAX_NAMED`, "A, B, … và 4 {noun} khác"."""
    if len(items) > MAX_NAMED and noun:
        rest = len(items) - MAX_NAMED + 1
        items = [*items[: MAX_NAMED - 1], f"{num(rest)} {noun} khác"]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} và {items[-1]}"


DIVISIONS = (
    "Tỉnh ",
    "Thành phố ",
    "Huyện ",
    "Thị xã ",
    "Quận ",
    "Xã ",
    "Phường ",
    "Thị trấn ",
    "Địa bàn ",
)
"""Words naming a tier of local government: written in lower case inside a sentence ("huyện
Nam Giang"), unlike an institution's name ("Sở Y tế", "Ủy ban nhân dân tỉnh Quảng Nam")."""


def in_sentence(name: str) -> str:
    """A unit's name as it reads inside a sentence: "Huyện Nam Giang" → "huyện Nam Giang";
    an institution keeps its capital."""
    if name.startswith(DIVISIONS):
        return name[:1].lower() + name[1:]
    return name


def sentence(text: str) -> str:
    """Capital first letter, one final full stop."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def more_or_less(difference: float) -> str:
    """ "cao hơn" / "thấp hơn" / "bằng" for a difference (this phase minus the other)."""
    if difference > 0:
        return "cao hơn"
    if difference < 0:
        return "thấp hơn"
    return "bằng"


def long_date(day: dt.date) -> str:
    """ "ngày 05 tháng 01 năm 2026", as an administrative document dates itself."""
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def short_date(day: dt.date) -> str:
    """dd/mm/yyyy, as the dashboard writes it."""
    return format_date(day, "vi")
