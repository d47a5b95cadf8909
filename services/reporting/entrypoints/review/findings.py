"""Findings: sentences built from the evaluation's figures, in Vietnamese that reads as a
report does ("Có 3 lượt kết thúc trước hạn, chiếm 12,5 % số lượt đã kết thúc.").

Each function of `FINDINGS` reads `ReviewFigures` and returns its sentences (none when it has
nothing to say); those on the localities' plans and on later promotions, receptions and time
to fill live beside their sections (`review/plans.py`).

Small cells: the only protected breakdown is `by_ethnicity`, whose withheld cells are null.
A sentence states only cells that are shown, and never a sum or a difference of ethnic cells,
so nothing the dashboard withholds can be read from a sentence either.
"""

from collections.abc import Callable

from services.reporting.domain.evaluation import ratio
from services.reporting.entrypoints.exports import group_name
from services.reporting.entrypoints.review.localities import Locality, localities
from services.reporting.entrypoints.review.plans import outcome_findings, plan_findings
from services.reporting.entrypoints.review.vietnamese import (
    days,
    in_sentence,
    listing,
    more_or_less,
    num,
    pct,
    points,
    sentence,
    short_date,
)
from services.reporting.service_layer.review import ReviewFigures

RATING_NAMES = {
    "EXCELLENT": "hoàn thành xuất sắc nhiệm vụ",
    "GOOD": "hoàn thành tốt nhiệm vụ",
    "COMPLETED": "hoàn thành nhiệm vụ",
    "NOT_COMPLETED": "không hoàn thành nhiệm vụ",
}
ARRANGEMENT_PHRASES = {
    "RETURNED_TO_FORMER_POST": "trở về vị trí công tác cũ",
    "TRANSFERRED": "được điều động sang vị trí khác",
    "OTHER": "được bố trí theo hình thức khác",
}


def overview(f: ReviewFigures) -> list[str]:
    """How many were seconded, where to, how many are back."""
    ev, s = f.evaluation, f.evaluation.secondments
    day = short_date(ev.as_of)
    if not s.started:
        return [sentence(f"Tính đến ngày {day}, chưa có lượt biệt phái nào trong giai đoạn")]
    hosts = sum(1 for g in ev.by_host_unit.values() if g.secondments.started)
    parts = [f"{num(s.ended)} lượt đã kết thúc" if s.ended else "chưa có lượt nào kết thúc"]
    if s.active:
        parts.append(f"{num(s.active)} lượt đang biệt phái")
    return [
        sentence(
            f"Tính đến ngày {day}, các địa phương đã cử {num(s.started)} lượt biệt phái "
            f"({num(s.officials)} cán bộ) về làm việc tại {num(hosts)} cơ quan tiếp nhận; "
            f"trong đó {listing(parts)}"
        )
    ]


def needs(f: ReviewFigures) -> list[str]:
    """Needs raised and how far they were met."""
    n = f.evaluation.needs
    if not n.raised:
        return [sentence("Trong giai đoạn, chưa có cơ quan nào đăng ký nhu cầu tiếp nhận")]
    out = [
        sentence(
            f"Các cơ quan tiếp nhận đã đăng ký {num(n.raised)} nhu cầu với "
            f"{num(n.positions_requested)} vị trí; đã bố trí được {num(n.positions_filled)} "
            f"vị trí, đạt tỷ lệ đáp ứng {pct(n.fill_rate)}"
        )
    ]
    if n.open:
        out.append(sentence(f"Hiện còn {num(n.open)} nhu cầu chưa được đáp ứng đủ"))
    return out


def _leaders(rows: list[Locality], count: Callable[[Locality], int]) -> tuple[int, list[str], str]:
    """The largest count, the localities that have it (named as in a sentence), and how the
    sentence states it: "(5 lượt)", or "(mỗi địa phương 5 lượt)" when several share it."""
    most = max(count(r) for r in rows)
    top = [in_sentence(r.name) for r in rows if count(r) == most]
    each = "mỗi địa phương " if len(top) > 1 else ""
    return most, top, f"({each}{num(most)} lượt)"


def behind(f: ReviewFigures) -> list[str]:
    """Localities that sent no one, or under half the average; the one that sent most."""
    rows = localities(f)
    expected = [r for r in rows if r.expected]
    if not expected:
        return []
    out: list[str] = []
    none = [r for r in expected if not r.started]
    if none:
        out.append(
            sentence(
                f"Có {num(len(none))}/{num(len(expected))} địa phương chưa cử cán bộ nào: "
                f"{listing([in_sentence(r.name) for r in none], 'địa phương')}"
            )
        )
    else:
        out.append(sentence(f"Tất cả {num(len(expected))} địa phương đều đã cử cán bộ"))
    mean = sum(r.started for r in expected) / len(expected)
    low = [r for r in expected if 0 < r.started < mean / 2]
    if low:
        names = [f"{in_sentence(r.name)} ({num(r.started)} lượt)" for r in low]
        out.append(
            sentence(
                f"Số lượt cử của {listing(names, 'địa phương')} thấp hơn một nửa mức bình quân "
                f"{num(round(mean, 1))} lượt mỗi địa phương"
            )
        )
    most, top, amount = _leaders(rows, lambda r: r.started)
    if most:
        out.append(sentence(f"Địa phương cử nhiều nhất là {listing(top, 'địa phương')} {amount}"))
    return out


def early_ends(f: ReviewFigures) -> list[str]:
    """Secondments ended before their term, and overdue ones."""
    s = f.evaluation.secondments
    out: list[str] = []
    if s.ended and not s.terminated_early:
        out.append(sentence("Không có lượt biệt phái nào phải kết thúc trước hạn"))
    elif s.terminated_early:
        share = pct(ratio(s.terminated_early, s.ended))
        text = (
            f"Có {num(s.terminated_early)} lượt kết thúc trước hạn, chiếm {share} số lượt "
            "đã kết thúc"
        )
        rows = [r for r in localities(f) if r.terminated_early]
        _, top, amount = _leaders(rows, lambda r: r.terminated_early)
        if len(top) < len(rows):  # a locality stands out
            text += f"; nhiều nhất ở {listing(top, 'địa phương')} {amount}"
        out.append(sentence(text))
    if s.overdue:
        out.append(
            sentence(
                f"Có {num(s.overdue)} lượt đã quá thời hạn biệt phái nhưng chưa có quyết định "
                "kết thúc, cần được xem xét, xử lý"
            )
        )
    return out


def ratings(f: ReviewFigures) -> list[str]:
    """The hosts' ratings, and the share rated good or better."""
    r = f.evaluation.ratings
    rated = sum(r.values())
    if not rated:
        return []
    parts = [f"{num(r[k])} lượt {name}" for k, name in RATING_NAMES.items() if r.get(k)]
    good = ratio(r.get("EXCELLENT", 0) + r.get("GOOD", 0), rated)
    text = f"Về kết quả thực hiện nhiệm vụ, cơ quan tiếp nhận đánh giá {listing(parts)}"
    text += f"; tỷ lệ hoàn thành tốt nhiệm vụ trở lên đạt {pct(good)}"
    if not r.get("NOT_COMPLETED"):
        text += ", không có lượt nào không hoàn thành nhiệm vụ"
    return [sentence(text)]


def promotions(f: ReviewFigures) -> list[str]:
    """The promotion rate against the previous phase, and the other arrangements."""
    ev = f.evaluation
    ended = ev.secondments.ended
    if not ended:
        return [
            sentence(
                "Chưa có lượt biệt phái nào kết thúc nên chưa đánh giá được tỷ lệ bổ nhiệm "
                "sau biệt phái"
            )
        ]
    promoted = ev.promoted  # at the arrangement or later, as promotion_rate counts them
    text = (
        f"Sau biệt phái, {num(promoted)} lượt cán bộ được bổ nhiệm vào chức vụ cao hơn, "
        f"đạt tỷ lệ {pct(ev.promotion_rate)} số lượt đã kết thúc"
    )
    before = f.previous
    if before is None or f.previous_phase is None:
        text += "; đây là giai đoạn đầu của Kế hoạch nên chưa có giai đoạn trước để so sánh"
    elif before.promotion_rate is None or ev.promotion_rate is None:
        text += f"; giai đoạn {f.previous_phase.phase_id} chưa có số liệu để so sánh"
    else:
        difference = ev.promotion_rate - before.promotion_rate
        word = more_or_less(difference)
        amount = f" {points(difference)}" if difference else ""
        previous = f"giai đoạn {f.previous_phase.phase_id} ({pct(before.promotion_rate)})"
        text += f", {word}{amount} so với {previous}"
    out = [sentence(text)]
    others = [
        f"{num(ev.post_arrangements[k])} lượt {phrase}"
        for k, phrase in ARRANGEMENT_PHRASES.items()
        if ev.post_arrangements.get(k)
    ]
    unarranged = ended - sum(ev.post_arrangements.values())
    if unarranged:
        others.append(f"{num(unarranged)} lượt chưa có quyết định bố trí công tác")
    if others:
        out.append(sentence(f"Ngoài ra, {listing(others)}"))
    return out


DESTINATIONS_NAMED = 3
"""How many destination units the finding names, the most frequent first."""


def destinations(f: ReviewFigures) -> list[str]:
    """Where the officials went: the arrangements that name a unit, and the units most named."""
    went = {
        code: sum(codes.values())
        for code, codes in f.evaluation.post_arrangements_by_destination.items()
    }
    total = sum(went.values())
    if not total:
        return []
    named = sorted(
        ((group_name("host_unit", code, "vi"), n) for code, n in went.items()),
        key=lambda pair: (-pair[1], pair[0].lower()),
    )[:DESTINATIONS_NAMED]
    arranged = sum(f.evaluation.post_arrangements.values())
    return [
        sentence(
            f"Có {num(total)}/{num(arranged)} lượt bố trí công tác sau biệt phái ghi rõ cơ quan, "
            f"đơn vị đến công tác; nhiều nhất là "
            f"{listing([f'{in_sentence(name)} ({num(n)} lượt)' for name, n in named])}"
        )
    ]


def pace(f: ReviewFigures) -> list[str]:
    """Secondments per year against the previous phase (phases differ in length)."""
    if f.previous_phase is None or not f.per_year:
        return []
    this = f.per_year[f.phase.phase_id]["secondments"]["started"]
    that = f.per_year[f.previous_phase.phase_id]["secondments"]["started"]
    if this is None or that is None:
        return []
    return [
        sentence(
            f"Bình quân mỗi năm, giai đoạn {f.phase.phase_id} cử {num(this)} lượt, "
            f"{more_or_less(this - that)} giai đoạn {f.previous_phase.phase_id} "
            f"({num(that)} lượt mỗi năm)"
        )
    ]


def duration(f: ReviewFigures) -> list[str]:
    """How long the ended secondments lasted."""
    d = f.evaluation.duration_days
    if d.mean is None:
        return []
    return [sentence(f"Thời gian biệt phái {days(d, 'bình quân là')}")]


def groups(f: ReviewFigures) -> list[str]:
    """Women among the seconded; the ethnic group seconded most among the cells shown."""
    ev = f.evaluation
    out: list[str] = []
    women = ev.by_gender.get("F")
    if women and ev.secondments.started:
        share = pct(ratio(women.secondments.started, ev.secondments.started))
        started = num(women.secondments.started)
        out.append(sentence(f"Có {started} lượt cán bộ nữ được cử, chiếm {share} tổng số lượt"))
    shown = {k: g.secondments.started for k, g in ev.by_ethnicity.items()}
    visible = {k: v for k, v in shown.items() if v}
    if visible:
        most = max(visible.values())
        top = [group_name("ethnicity", k, "vi") for k, v in visible.items() if v == most]
        text = f"Cán bộ người {listing(top)} được cử nhiều nhất ({num(most)} lượt)"
        hidden = [k for k, g in ev.by_ethnicity.items() if g.suppressed]
        if hidden:
            text = "Trong các nhóm dân tộc có số liệu được công bố, c" + text[1:]
            text += (
                f"; số liệu nhỏ của {num(len(hidden))} nhóm dân tộc được ẩn để bảo vệ thông "
                "tin cá nhân"
            )
        out.append(sentence(text))
    return out


Finding = Callable[[ReviewFigures], list[str]]
FINDINGS: list[Finding] = [
    overview,
    needs,
    behind,
    plan_findings,
    early_ends,
    ratings,
    promotions,
    outcome_findings,
    destinations,
    pace,
    duration,
    groups,
]
"""In the order the report states them; add a function to add a finding."""


def findings(f: ReviewFigures) -> list[str]:
    """One paragraph per finding that has something to say, in order."""
    said = (finding(f) for finding in FINDINGS)
    return [" ".join(sentences) for sentences in said if sentences]
