"""Rule codes: the stable reason of every refusal, over HTTP and (later) over Kafka.

Codes, their HTTP statuses and their titles are part of the public contract; see
docs/rules.md. Titles are Vietnamese first, English second.
"""

from enum import StrEnum
from typing import Final, NamedTuple


class RuleCode(StrEnum):
    """Why a command was refused."""

    OFFICIAL_NOT_ETHNIC_MINORITY = "OFFICIAL_NOT_ETHNIC_MINORITY"
    RANK_BELOW_MINIMUM = "RANK_BELOW_MINIMUM"
    HOME_UNIT_NOT_MOUNTAINOUS = "HOME_UNIT_NOT_MOUNTAINOUS"
    DURATION_OVER_CAP = "DURATION_OVER_CAP"
    OVERLAPPING_SECONDMENT = "OVERLAPPING_SECONDMENT"
    OFFICIAL_EXCLUDED = "OFFICIAL_EXCLUDED"
    NEED_NOT_OPEN = "NEED_NOT_OPEN"
    NEED_FULL = "NEED_FULL"
    NEED_UNKNOWN = "NEED_UNKNOWN"
    NEED_NOT_YET_KNOWN = "NEED_NOT_YET_KNOWN"
    LIFECYCLE_ORDER = "LIFECYCLE_ORDER"
    NEED_ALREADY_FILLED = "NEED_ALREADY_FILLED"
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"
    UNKNOWN_CODE = "UNKNOWN_CODE"
    NOT_FOUND = "NOT_FOUND"
    INVALID_REQUEST = "INVALID_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    PROMOTION_NOT_HIGHER = "PROMOTION_NOT_HIGHER"
    HOST_NOT_ELIGIBLE = "HOST_NOT_ELIGIBLE"
    SECTOR_NOT_COVERED = "SECTOR_NOT_COVERED"
    PROMOTION_NOT_ABOVE_EARLIER = "PROMOTION_NOT_ABOVE_EARLIER"
    PLAN_YEAR_OUTSIDE_PHASE = "PLAN_YEAR_OUTSIDE_PHASE"
    PLAN_TARGET_INVALID = "PLAN_TARGET_INVALID"
    PLAN_ALREADY_ADOPTED = "PLAN_ALREADY_ADOPTED"
    PLAN_DECISION_OUT_OF_ORDER = "PLAN_DECISION_OUT_OF_ORDER"


class RuleInfo(NamedTuple):
    """HTTP status and the two titles of a rule code."""

    status: int
    title_vi: str
    title_en: str


RULES: Final[dict[RuleCode, RuleInfo]] = {
    RuleCode.OFFICIAL_NOT_ETHNIC_MINORITY: RuleInfo(
        422,
        "Cán bộ không phải người dân tộc thiểu số",
        "The official does not belong to an ethnic minority",
    ),
    RuleCode.RANK_BELOW_MINIMUM: RuleInfo(
        422,
        "Chức vụ thấp hơn mức tối thiểu",
        "The official's rank is below the minimum",
    ),
    RuleCode.HOME_UNIT_NOT_MOUNTAINOUS: RuleInfo(
        422,
        "Cơ quan cử không thuộc địa phương miền núi",
        "The home unit is not a mountainous locality",
    ),
    RuleCode.DURATION_OVER_CAP: RuleInfo(
        422,
        "Thời gian biệt phái vượt quá giới hạn",
        "The secondment is longer than the cap",
    ),
    RuleCode.OVERLAPPING_SECONDMENT: RuleInfo(
        422,
        "Cán bộ đang có đợt biệt phái trùng thời gian",
        "The official has an overlapping secondment",
    ),
    RuleCode.HOST_NOT_ELIGIBLE: RuleInfo(
        422,
        "Đơn vị này không được đề xuất nhu cầu tiếp nhận",
        "This unit may not raise a need",
    ),
    RuleCode.SECTOR_NOT_COVERED: RuleInfo(
        422,
        "Lĩnh vực không thuộc phạm vi quản lý của cơ quan tiếp nhận",
        "The host department does not cover this sector",
    ),
    RuleCode.PROMOTION_NOT_HIGHER: RuleInfo(
        422,
        "Chức vụ mới không cao hơn chức vụ khi được biệt phái",
        "The new rank is not above the rank the official held when seconded",
    ),
    RuleCode.PROMOTION_NOT_ABOVE_EARLIER: RuleInfo(
        422,
        "Chức vụ mới không cao hơn chức vụ đã được bổ nhiệm trước đó",
        "The new rank is not above the rank of an earlier promotion",
    ),
    RuleCode.PLAN_YEAR_OUTSIDE_PHASE: RuleInfo(
        422,
        "Năm kế hoạch nằm ngoài giai đoạn",
        "A planned year is outside the phase",
    ),
    RuleCode.PLAN_TARGET_INVALID: RuleInfo(
        422,
        "Chỉ tiêu kế hoạch không hợp lệ",
        "The plan's targets are not valid",
    ),
    RuleCode.PLAN_ALREADY_ADOPTED: RuleInfo(
        409,
        "Địa phương đã có kế hoạch biệt phái cho giai đoạn này",
        "The locality already has a secondment plan for this phase",
    ),
    RuleCode.PLAN_DECISION_OUT_OF_ORDER: RuleInfo(
        409,
        "Ngày quyết định điều chỉnh trước ngày quyết định trước đó",
        "The amending decision is dated before the plan's previous decision",
    ),
    RuleCode.OFFICIAL_EXCLUDED: RuleInfo(
        422,
        "Cán bộ thuộc trường hợp không được biệt phái",
        "The official may not be seconded",
    ),
    RuleCode.NEED_NOT_OPEN: RuleInfo(409, "Nhu cầu không còn mở", "The need is not open"),
    RuleCode.NEED_FULL: RuleInfo(409, "Nhu cầu đã đủ số lượng", "The need has no free position"),
    RuleCode.NEED_UNKNOWN: RuleInfo(422, "Không có nhu cầu này", "No such need"),
    RuleCode.NEED_NOT_YET_KNOWN: RuleInfo(
        503,
        "Chưa cập nhật nhu cầu này, vui lòng thử lại",
        "The need is not known yet; retry shortly",
    ),
    RuleCode.LIFECYCLE_ORDER: RuleInfo(
        409,
        "Thao tác không đúng trình tự",
        "The action is out of order",
    ),
    RuleCode.NEED_ALREADY_FILLED: RuleInfo(
        409,
        "Nhu cầu đã có người được biệt phái",
        "The need already has filled positions",
    ),
    RuleCode.CONCURRENT_UPDATE: RuleInfo(
        409,
        "Hồ sơ vừa được người khác cập nhật",
        "The record was updated concurrently",
    ),
    RuleCode.UNKNOWN_CODE: RuleInfo(
        422,
        "Mã danh mục không hợp lệ",
        "Unknown reference-data code",
    ),
    RuleCode.NOT_FOUND: RuleInfo(404, "Không tìm thấy", "Not found"),
    RuleCode.UNAUTHENTICATED: RuleInfo(
        401, "Chưa xác thực hoặc mã truy cập không hợp lệ", "Missing or invalid access token"
    ),
    RuleCode.FORBIDDEN: RuleInfo(
        403, "Không có quyền thực hiện thao tác này", "Not allowed to do this"
    ),
    RuleCode.INVALID_REQUEST: RuleInfo(422, "Yêu cầu không hợp lệ", "The request is not valid"),
    RuleCode.REQUEST_TOO_LARGE: RuleInfo(
        413, "Nội dung yêu cầu quá lớn", "The request body is too large"
    ),
}
