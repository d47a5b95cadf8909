"""What the phase-review report says, built from `ReviewFigures` (the evaluation the dashboard
shows, and the previous phase as `compare` gives it): title page, introduction, figures with
charts, tables per locality and per group, findings, signature.

`SECTIONS` lists the sections in order; each is a function of the figures returning its
blocks (none to leave it out): the localities' plans and the outcomes are two of them
(`review/plans.py`).
"""

import datetime as dt
from collections.abc import Callable

from services.reporting.domain.evaluation import Evaluation
from services.reporting.entrypoints.exports import group_name
from services.reporting.entrypoints.i18n import LABELS
from services.reporting.entrypoints.review.document import (
    Block,
    Heading,
    Paragraph,
    Review,
    Signature,
    TitlePage,
    numbered,
)
from services.reporting.entrypoints.review.plans import outcomes_section, plans_section
from services.reporting.entrypoints.review.tables import (
    by_group,
    by_locality,
    findings_section,
    results,
)
from services.reporting.entrypoints.review.vietnamese import (
    in_sentence,
    long_date,
    num,
    short_date,
)
from services.reporting.service_layer.review import ReviewFigures
from shared.reference import reference_data
from shared.reference.models import Unit

T = LABELS["vi"]
PLAN_REPORTED_ON = dt.date(2024, 7, 19)
"""The seed article's date (VTV.vn): the plan was in force by then, issued by the province of
that day."""
DRAFT = "DỰ THẢO"


def _province(on: dt.date) -> Unit | None:
    ref = reference_data()
    found = [u for u in ref.units(valid_on=on) if u.kind in ("PROVINCE", "CITY") and not u.parent]
    return found[0] if found else None


def _leadership(on: dt.date) -> Unit | None:
    ref = reference_data()
    return next((u for u in ref.units(valid_on=on, kind="LEADERSHIP")), None)


def _place(province: Unit | None) -> str:
    if province is None:
        return ""
    for prefix in ("Tỉnh ", "Thành phố "):
        if province.name.startswith(prefix):
            return province.name.removeprefix(prefix)
    return province.name


def _authority(on: dt.date) -> tuple[str, ...]:
    """ "ỦY BAN NHÂN DÂN" over "TỈNH QUẢNG NAM", as a document's heading names its issuer."""
    unit = _leadership(on)
    if unit is None:
        return ("ỦY BAN NHÂN DÂN",)
    name = unit.name.upper()
    head = "ỦY BAN NHÂN DÂN"
    return (head, name.removeprefix(head).strip()) if name.startswith(head) else (name,)


def _review_kind(f: ReviewFigures) -> str:
    """ "Tổng kết" once the phase is over by `as_of`, "Sơ kết" before."""
    return "Tổng kết" if f.evaluation.as_of >= f.phase.ends_on else "Sơ kết"


def _scope(ev: Evaluation) -> str:
    parts = [f"{T[k]}: {group_name(k, v, 'vi')}" for k, v in ev.filters.model_dump().items() if v]
    if ev.rollup == "successor":
        parts.append(T["rollup"].lower())
    return "; ".join(parts) or "toàn bộ các địa phương, cơ quan và lĩnh vực"


def title_page(f: ReviewFigures, generated_on: dt.date) -> TitlePage:
    """Issuer as on the document's date, the phase, the as-of date, the draft marking."""
    ev, phase = f.evaluation, f.phase
    facts = [
        f"Giai đoạn: {phase.phase_id} ({short_date(phase.starts_on)} – "
        f"{short_date(phase.ends_on)})",
        f"Số liệu tính đến ngày: {short_date(ev.as_of)}",
        f"Phạm vi: {_scope(ev)}",
    ]
    if phase.provisional:
        facts.append("Các giả định của giai đoạn là tạm tính, chờ lãnh đạo xác nhận.")
    facts.append(
        f"Báo cáo lập tự động từ hệ thống theo dõi biệt phái ngày {short_date(generated_on)}."
    )
    return TitlePage(
        authority=_authority(generated_on),
        number="Số: …/BC-UBND",
        place_date=f"{_place(_province(generated_on))}, {long_date(generated_on)}",
        title="BÁO CÁO",
        subtitle=f"{_review_kind(f)} giai đoạn {phase.phase_id} thực hiện Kế hoạch bồi dưỡng "
        "cán bộ, công chức, viên chức người dân tộc thiểu số thông qua công tác thực tiễn "
        "(biệt phái từ địa phương về tỉnh)",
        facts=tuple(facts),
        draft_mark=DRAFT,
    )


def introduction(f: ReviewFigures, generated_on: dt.date) -> list[Block]:
    """The plan's aim, in the report's own words, citing the plan."""
    province = _province(PLAN_REPORTED_ON)
    leader = _leadership(PLAN_REPORTED_ON)
    issuer = f"Chủ tịch {in_sentence(leader.name)}" if leader else "Chủ tịch Ủy ban nhân dân tỉnh"
    blocks: list[Block] = [
        Heading("Mục đích, yêu cầu của Kế hoạch"),
        Paragraph(
            f"Thực hiện Kế hoạch bồi dưỡng cán bộ, công chức, viên chức người dân tộc thiểu "
            f"số thông qua công tác thực tiễn do {issuer} ký ban hành (VTV.vn đưa tin ngày "
            f"{short_date(PLAN_REPORTED_ON)}), các huyện miền núi cử cán bộ, công chức, viên "
            "chức người dân tộc thiểu số giữ chức vụ từ phó trưởng phòng chuyên môn hoặc "
            "tương đương trở lên về làm việc có thời hạn (biệt phái) tại các cơ quan, đơn vị "
            "thuộc các sở, ban, ngành của tỉnh, theo ngành, lĩnh vực có nhu cầu."
        ),
        Paragraph(
            "Mục đích của Kế hoạch là bồi dưỡng, nâng cao kiến thức, trình độ chuyên môn và "
            "năng lực quản lý thông qua công việc thực tế, xây dựng đội ngũ cán bộ đáp ứng yêu "
            "cầu thực tiễn của địa phương trong tình hình mới, qua đó kịp thời bù đắp sự thiếu "
            f"hụt cán bộ lãnh đạo ở vùng miền núi. Mỗi lượt biệt phái không quá "
            f"{num(f.phase.cap_months)} tháng. Kế hoạch thực hiện giai đoạn 2024–2025, định "
            "hướng giai đoạn 2026–2030; trên cơ sở sơ kết, tổng kết, rút kinh nghiệm giai đoạn "
            "2024–2025, Kế hoạch được điều chỉnh, bổ sung và ban hành cho giai đoạn tiếp theo."
        ),
    ]
    ref = reference_data()
    if province and province.valid_to and province.valid_to < generated_on:
        after = province.valid_to + dt.timedelta(days=1)
        successors = ref.successors(province.code, on=generated_on)
        if successors:
            blocks.append(
                Paragraph(
                    f"Từ ngày {short_date(after)}, {in_sentence(province.name)} hợp nhất vào "
                    f"{in_sentence(successors[0].name)}; các địa phương, cơ quan được ghi theo "
                    "tên gọi tại thời điểm ra quyết định."
                )
            )
    blocks.append(
        Paragraph(
            f"Báo cáo này {_review_kind(f).lower()} kết quả giai đoạn {f.phase.phase_id} từ số "
            "liệu của hệ thống theo dõi biệt phái, cùng số liệu với trang tổng hợp (cách tính "
            "trong tài liệu docs/reporting.md). Số liệu nhỏ theo dân tộc (từ 1 đến "
            f"{num(f.evaluation.small_cell_threshold - 1)}) được ẩn để bảo vệ thông tin cá nhân."
        )
    )
    return blocks


Section = Callable[[ReviewFigures], list[Block]]
SECTIONS: list[Section] = [
    results,
    by_locality,
    plans_section,
    outcomes_section,
    by_group,
    findings_section,
]
"""After the introduction, in order; a function returning [] leaves its section out."""


def signature(generated_on: dt.date) -> Signature:
    """Recipients, and the block the chairman (or a vice-chairman on his behalf) signs."""
    leader = _leadership(generated_on)
    return Signature(
        recipients=(
            "Nơi nhận:",
            f"- Lãnh đạo {in_sentence(leader.name) if leader else 'Ủy ban nhân dân'};",
            "- Sở Nội vụ;",
            "- Các sở, ban, ngành tiếp nhận cán bộ;",
            "- Các địa phương cử cán bộ;",
            "- Lưu: VT.",
        ),
        on_behalf="TM. ỦY BAN NHÂN DÂN",
        role="CHỦ TỊCH",
        instruction="(Ký, ghi rõ họ tên và đóng dấu)",
    )


def build_review(f: ReviewFigures, generated_on: dt.date) -> Review:
    """The whole report for these figures, dated `generated_on`."""
    blocks = introduction(f, generated_on)
    for section in SECTIONS:
        blocks += section(f)
    kind = _review_kind(f)
    return Review(
        title=title_page(f, generated_on),
        blocks=numbered(blocks),
        signature=signature(generated_on),
        running_head=f"{DRAFT} — Báo cáo {kind.lower()} giai đoạn {f.phase.phase_id}",
    )
