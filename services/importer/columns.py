"""The spreadsheet's columns: canonical names, Vietnamese headers, and how headers map to them.

A header matches a column when, folded (diacritics removed, `đ` → `d`, lower case, anything
but letters and digits → `_`), it equals the folded English name or one of the folded
Vietnamese headers: `Cơ quan cử`, `co quan cu`, `CO_QUAN_CU` and `home_unit` all name
`home_unit`.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Group(StrEnum):
    """What part of the row a column belongs to; also the import step that uses it."""

    NEED = "need"
    OFFICIAL = "official"
    SECONDMENT = "secondment"
    RECEPTION = "reception"
    ENDING = "ending"
    POST_ARRANGEMENT = "post_arrangement"


class Kind(StrEnum):
    """How a cell is read."""

    TEXT = "text"
    CODE = "code"  # reference-data code: trimmed, upper-cased
    DATE = "date"
    INT = "int"
    CHOICE = "choice"  # a closed list of values, with Vietnamese aliases


@dataclass(frozen=True)
class Column:
    """One column of the import spreadsheet."""

    name: str
    vi: tuple[str, ...]
    group: Group
    kind: Kind
    required: bool
    """Required in the header (and, for optional groups, in a row that fills the group)."""
    meaning: str


def _c(
    name: str, vi: str | tuple[str, ...], group: Group, kind: Kind, required: bool, meaning: str
) -> Column:
    return Column(name, (vi,) if isinstance(vi, str) else vi, group, kind, required, meaning)


G, K = Group, Kind

COLUMNS: Final[tuple[Column, ...]] = (
    # the need (a host department's request)
    _c("need_ref", ("Mã nhu cầu", "Số hiệu nhu cầu"), G.NEED, K.TEXT, False,
       "groups rows under one need; kept in the need's description"),
    _c("host_unit", ("Đơn vị tiếp nhận", "Cơ quan tiếp nhận"), G.NEED, K.CODE, True,
       "host department code valid on `raised_on`, e.g. `SO_Y_TE`"),
    _c("sector", "Lĩnh vực", G.NEED, K.CODE, True, "sector code, e.g. `HEALTH`"),
    _c("position_title", ("Vị trí công tác", "Vị trí"), G.NEED, K.TEXT, True,
       "the post asked for"),
    _c("positions", ("Số lượng", "Số lượng cần"), G.NEED, K.INT, True,
       "number of officials wanted (1–20)"),
    _c("min_rank", ("Chức vụ tối thiểu", "Chức vụ tối thiểu yêu cầu"), G.NEED, K.CODE, True,
       "lowest rank accepted, e.g. `PHO_TRUONG_PHONG`"),
    _c("desired_start", "Ngày dự kiến bắt đầu", G.NEED, K.DATE, True, "wished start"),
    _c("duration_months", ("Thời hạn (tháng)", "Số tháng"), G.NEED, K.INT, True,
       "months asked for (1 to the phase's cap)"),
    _c("raised_on", ("Ngày đề xuất", "Ngày đề nghị"), G.NEED, K.DATE, True,
       "date the need was raised"),
    _c("description", ("Mô tả", "Ghi chú nhu cầu"), G.NEED, K.TEXT, False,
       "free text about the need"),
    # the official
    _c("official_id", ("Mã cán bộ", "Mã số cán bộ"), G.OFFICIAL, K.TEXT, True,
       "the home authority's identifier, never a citizen's ID number"),
    _c("full_name", ("Họ và tên", "Họ tên"), G.OFFICIAL, K.TEXT, True, "full name"),
    _c("gender", "Giới tính", G.OFFICIAL, K.CHOICE, True, "`F`/`M` or `Nữ`/`Nam`"),
    _c("birth_date", "Ngày sinh", G.OFFICIAL, K.DATE, True, "date of birth"),
    _c("ethnicity", "Dân tộc", G.OFFICIAL, K.CODE, True, "ethnic group code, e.g. `CO_TU`"),
    _c("ethnic_subgroup", ("Nhóm địa phương", "Nhóm dân tộc"), G.OFFICIAL, K.CODE, False,
       "local subgroup code, e.g. `CA_DONG`"),
    _c("service_category", ("Loại cán bộ", "Đối tượng"), G.OFFICIAL, K.CHOICE, True,
       "`CADRE`/`CIVIL_SERVANT`/`PUBLIC_EMPLOYEE` or `Cán bộ`/`Công chức`/`Viên chức`"),
    _c("position_rank", ("Chức vụ", "Chức vụ hiện tại"), G.OFFICIAL, K.CODE, True,
       "rank code, e.g. `TRUONG_PHONG`"),
    _c("home_unit", ("Cơ quan cử", "Đơn vị cử"), G.OFFICIAL, K.CODE, True,
       "mountainous home unit valid on the decision date, e.g. `NAM_GIANG`"),
    # the secondment decision
    _c("start_date", "Ngày bắt đầu", G.SECONDMENT, K.DATE, True, "first day"),
    _c("planned_end_date", ("Ngày kết thúc dự kiến", "Ngày kết thúc theo quyết định"),
       G.SECONDMENT, K.DATE, True, "last day, inclusive"),
    _c("decision_number", "Số quyết định", G.SECONDMENT, K.TEXT, True,
       "number of the secondment decision, e.g. `123/QĐ-UBND`"),
    _c("decision_date", "Ngày quyết định", G.SECONDMENT, K.DATE, True, "date of the decision"),
    _c("signed_by", ("Người ký", "Người ký quyết định"), G.SECONDMENT, K.TEXT, False,
       "signatory"),
    # reception by the host (optional)
    _c("received_on", "Ngày tiếp nhận", G.RECEPTION, K.DATE, True, "day the host received"),
    _c("assigned_role", ("Nhiệm vụ được giao", "Công việc được giao"), G.RECEPTION, K.TEXT,
       True, "work assigned"),
    _c("supervisor", ("Người hướng dẫn", "Người phụ trách"), G.RECEPTION, K.TEXT, False,
       "who supervises"),
    # ending (optional)
    _c("ended_on", ("Ngày kết thúc", "Ngày kết thúc thực tế"), G.ENDING, K.DATE, True,
       "last day served"),
    _c("end_reason", "Lý do kết thúc", G.ENDING, K.CHOICE, True,
       "`COMPLETED`/`TERMINATED_EARLY` or `Hoàn thành`/`Kết thúc trước hạn`"),
    _c("rating", ("Xếp loại", "Đánh giá"), G.ENDING, K.CHOICE, True,
       "`EXCELLENT`/`GOOD`/`COMPLETED`/`NOT_COMPLETED` or `Hoàn thành xuất sắc nhiệm vụ`…"),
    _c("remarks", ("Nhận xét", "Nhận xét của đơn vị tiếp nhận"), G.ENDING, K.TEXT, False,
       "the host's remarks"),
    _c("end_decision_number", "Số quyết định kết thúc", G.ENDING, K.TEXT, True,
       "number of the ending decision"),
    _c("end_decision_date", "Ngày quyết định kết thúc", G.ENDING, K.DATE, True,
       "date of the ending decision"),
    # post arrangement (optional)
    _c("arrangement", ("Bố trí sau biệt phái", "Bố trí công tác"), G.POST_ARRANGEMENT,
       K.CHOICE, True,
       "`RETURNED_TO_FORMER_POST`/`PROMOTED`/`TRANSFERRED`/`OTHER` or `Trở về vị trí cũ`/"
       "`Đề bạt`/`Điều động`/`Khác`"),
    _c("new_position_rank", "Chức vụ mới", G.POST_ARRANGEMENT, K.CODE, False,
       "rank code, required when promoted"),
    _c("effective_date", "Ngày hiệu lực", G.POST_ARRANGEMENT, K.DATE, True,
       "day the arrangement takes effect"),
)  # fmt: skip

BY_NAME: Final[Mapping[str, Column]] = {c.name: c for c in COLUMNS}

OPTIONAL_GROUPS: Final = (Group.RECEPTION, Group.ENDING, Group.POST_ARRANGEMENT)
"""Groups a row may leave blank; their `required` columns are needed only when filled."""

REQUIRED_IN_HEADER: Final[tuple[str, ...]] = tuple(
    c.name for c in COLUMNS if c.required and c.group not in OPTIONAL_GROUPS
)
"""Columns every file must have (optional groups' columns may be left out of the file)."""


def fold(text: str) -> str:
    """Header or value folded for matching: `Cơ quan cử` → `co_quan_cu`."""
    decomposed = unicodedata.normalize("NFD", text.strip().replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", bare.lower()).strip("_")


HEADER_ALIASES: Final[Mapping[str, str]] = {
    alias: c.name for c in COLUMNS for alias in (fold(c.name), *(fold(v) for v in c.vi))
}

CHOICES: Final[Mapping[str, Mapping[str, str]]] = {
    "gender": {"F": "F", "M": "M", "Nữ": "F", "Nam": "M"},
    "service_category": {
        "CADRE": "CADRE",
        "CIVIL_SERVANT": "CIVIL_SERVANT",
        "PUBLIC_EMPLOYEE": "PUBLIC_EMPLOYEE",
        "Cán bộ": "CADRE",
        "Công chức": "CIVIL_SERVANT",
        "Viên chức": "PUBLIC_EMPLOYEE",
    },
    "end_reason": {
        "COMPLETED": "COMPLETED",
        "TERMINATED_EARLY": "TERMINATED_EARLY",
        "Hoàn thành": "COMPLETED",
        "Hết thời hạn": "COMPLETED",
        "Kết thúc trước hạn": "TERMINATED_EARLY",
        "Chấm dứt trước thời hạn": "TERMINATED_EARLY",
    },
    "rating": {
        "EXCELLENT": "EXCELLENT",
        "GOOD": "GOOD",
        "COMPLETED": "COMPLETED",
        "NOT_COMPLETED": "NOT_COMPLETED",
        "Hoàn thành xuất sắc nhiệm vụ": "EXCELLENT",
        "Xuất sắc": "EXCELLENT",
        "Hoàn thành tốt nhiệm vụ": "GOOD",
        "Tốt": "GOOD",
        "Hoàn thành nhiệm vụ": "COMPLETED",
        "Không hoàn thành nhiệm vụ": "NOT_COMPLETED",
    },
    "arrangement": {
        "RETURNED_TO_FORMER_POST": "RETURNED_TO_FORMER_POST",
        "PROMOTED": "PROMOTED",
        "TRANSFERRED": "TRANSFERRED",
        "OTHER": "OTHER",
        "Trở về vị trí cũ": "RETURNED_TO_FORMER_POST",
        "Đề bạt": "PROMOTED",
        "Bổ nhiệm": "PROMOTED",
        "Điều động": "TRANSFERRED",
        "Luân chuyển": "TRANSFERRED",
        "Khác": "OTHER",
    },
}
"""Accepted values of choice columns, by the folded value; unknown values go to the API as
written, which refuses them with `INVALID_REQUEST`."""

FOLDED_CHOICES: Final[Mapping[str, Mapping[str, str]]] = {
    name: {fold(k): v for k, v in values.items()} for name, values in CHOICES.items()
}


class HeaderError(ValueError):
    """The header row cannot be used: required columns missing, or a column given twice."""

    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.missing = tuple(missing)


def map_headers(headers: Sequence[object]) -> dict[int, str]:
    """Position of each known column in the header → its canonical name.

    Unknown headers are ignored (a refusal report with its extra columns can be re-imported).
    Raises `HeaderError` naming every missing required column, or a column given twice.
    """
    mapping: dict[int, str] = {}
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        if header is None:
            continue
        text = str(header)
        name = HEADER_ALIASES.get(fold(text))
        if name is None:
            continue
        if name in seen:
            raise HeaderError(f"column {name!r} is given twice: {seen[name]!r} and {text!r}")
        seen[name] = text
        mapping[index] = name
    missing = [name for name in REQUIRED_IN_HEADER if name not in seen]
    if missing:
        described = ", ".join(f"{n} ({BY_NAME[n].vi[0]})" for n in missing)
        raise HeaderError(f"missing required columns: {described}", missing)
    return mapping


def columns_of(group: Group) -> Iterable[Column]:
    """The columns of one group, in order."""
    return (c for c in COLUMNS if c.group is group)
