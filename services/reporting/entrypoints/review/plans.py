"""The phase review's sections on the localities' plans and on what became of the officials:
plan against actual per locality and for the province (with a chart), later promotions and
their delay, receptions, time to fill needs, and outcomes per home locality; and the findings
stated from them. Every figure is read from the evaluation (`plans`, `promoted`,
`promoted_after_return`, `promotion_delay_days`, `time_to_fill_days`, `by_home_unit`), as the
dashboard shows it; the only arithmetic is presentation (a share of a shown total, a shortfall
`expected_to_date − seconded` as the `behind_plan` alert states it)."""

from services.reporting.domain.evaluation import ratio
from services.reporting.domain.plans import LocalityPlanProgress, PlanProgressRow
from services.reporting.entrypoints.exports import group_name
from services.reporting.entrypoints.i18n import LABELS
from services.reporting.entrypoints.review.charts import bar_chart
from services.reporting.entrypoints.review.document import Block, Figure, Heading, Paragraph, Table
from services.reporting.entrypoints.review.localities import localities
from services.reporting.entrypoints.review.vietnamese import (
    days,
    in_sentence,
    listing,
    num,
    pct,
    sentence,
    short_date,
)
from services.reporting.service_layer.review import ReviewFigures

T = LABELS["vi"]


def shortfall(row: PlanProgressRow) -> int:
    """Officials short of the plan's pace (0 when on pace), as the `behind_plan` alert says."""
    return row.expected_to_date - row.seconded if row.behind_plan else 0


def behind_localities(f: ReviewFigures) -> list[tuple[str, LocalityPlanProgress]]:
    """(name in a sentence, figures) of the localities behind their plan, largest shortfall
    first, then by name."""
    plans = f.evaluation.plans
    if plans is None:
        return []
    rows = [
        (in_sentence(group_name("home_unit", code, "vi")), row)
        for code, row in plans.localities.items()
        if row.behind_plan
    ]
    return sorted(rows, key=lambda pair: (-shortfall(pair[1]), pair[0]))


def _no_plans(f: ReviewFigures, day: str) -> str:
    """The section's only paragraph and the finding when no locality's plan is in force."""
    return sentence(
        f"Đến ngày {day}, chưa có địa phương nào có kế hoạch biệt phái của giai đoạn "
        f"{f.phase.phase_id} có hiệu lực"
    )


def plans_section(f: ReviewFigures) -> list[Block]:
    """Plan against actual per locality and for the province, by year, with a chart."""
    ev = f.evaluation
    plans = ev.plans
    if plans is None:
        return []
    day = short_date(ev.as_of)
    blocks: list[Block] = [Heading("Thực hiện kế hoạch biệt phái của các địa phương")]
    if not plans.localities:
        blocks.append(Paragraph(_no_plans(f, day)))
        return blocks
    blocks.append(
        Paragraph(
            f"Kế hoạch của mỗi địa phương là kế hoạch có hiệu lực đến ngày {day} (theo quyết "
            "định ban hành hoặc điều chỉnh gần nhất). Tiến độ cần đạt đến nay gồm số cán bộ "
            "theo kế hoạch của các năm trước và phần của năm hiện tại tương ứng với số ngày "
            "đã qua, làm tròn xuống; địa phương có số đã cử thấp hơn tiến độ này là chậm so "
            "với kế hoạch."
        )
    )
    names = {code: group_name("home_unit", code, "vi") for code in plans.localities}

    def totals(name: str, row: PlanProgressRow) -> tuple[str, ...]:
        short = shortfall(row)
        return (
            name,
            num(row.planned),
            num(row.expected_to_date),
            num(row.seconded),
            pct(row.progress),
            num(short) if short else "—",
        )

    header = (
        "Địa phương có kế hoạch",
        "Kế hoạch cả giai đoạn",
        T["expected_to_date"],
        T["seconded"],
        T["progress"],
        "Thiếu so với tiến độ",
    )
    body = [totals(names[code], row) for code, row in plans.localities.items()]
    body.append(totals(T["province"], plans.province))
    years = [y.year for y in plans.province.years]

    def by_year(name: str, row: PlanProgressRow) -> tuple[str, ...]:
        return (name, *(f"{num(y.planned)} / {num(y.seconded)}" for y in row.years))

    yearly = [by_year(names[code], row) for code, row in plans.localities.items()]
    yearly.append(by_year(T["province"], plans.province))
    codes = list(plans.localities)
    chart = bar_chart(
        [names[c] for c in codes],
        [
            ("Kế hoạch cả giai đoạn", [plans.localities[c].planned for c in codes]),
            (T["expected_to_date"], [plans.localities[c].expected_to_date for c in codes]),
            (T["seconded"], [plans.localities[c].seconded for c in codes]),
        ],
    )
    blocks += [
        Table(header, tuple(body), (3.2, 1.2, 1.2, 1, 1, 1.2), total=True),
        Paragraph("Theo từng năm (kế hoạch / đã cử):"),
        Table(
            ("Địa phương có kế hoạch", *(f"Năm {y}" for y in years)),
            tuple(yearly),
            (3.2, *(1,) * len(years)),
            total=True,
        ),
        Figure("Kế hoạch, tiến độ cần đạt và số đã cử của các địa phương có kế hoạch", chart),
    ]
    return blocks


def outcomes_section(f: ReviewFigures) -> list[Block]:
    """Promotions (at the arrangement and later) with their delay, receptions, time to fill
    needs, and what became of each home locality's officials."""
    ev = f.evaluation
    s, n = ev.secondments, ev.needs
    at_arrangement = ev.post_arrangements.get("PROMOTED", 0)
    delay, fill = ev.promotion_delay_days, ev.time_to_fill_days
    promotion_rows = (
        (T["ended"], num(s.ended)),
        (T["promoted"], num(ev.promoted)),
        ("Trong đó: bổ nhiệm khi bố trí sau biệt phái", num(at_arrangement)),
        ("Trong đó: bổ nhiệm sau khi trở về", num(ev.promoted_after_return)),
        (T["promotion_rate"], pct(ev.promotion_rate)),
        (f"{T['promotion_delay_days']} · {T['mean']}", num(delay.mean)),
        (f"{T['promotion_delay_days']} · {T['median']}", num(delay.median)),
        (f"{T['promotion_delay_days']} · {T['max']}", num(delay.max)),
    )
    reception_rows = (
        (T["started"], num(s.started)),
        (T["received"], num(s.received)),
        ("Tỷ lệ đã tiếp nhận", pct(ratio(s.received, s.started))),
        (T["filled"], num(n.filled)),
        (f"{T['time_to_fill_days']} · {T['mean']}", num(fill.mean)),
        (f"{T['time_to_fill_days']} · {T['median']}", num(fill.median)),
        (f"{T['time_to_fill_days']} · {T['max']}", num(fill.max)),
    )
    header = (
        "Địa phương cử cán bộ",
        T["ended"],
        T["terminated_early"],
        "Bổ nhiệm khi bố trí",
        "Bổ nhiệm sau khi trở về",
        T["promotion_rate"],
    )
    body = []
    for row in localities(f):
        group = ev.by_home_unit.get(row.code)
        o = group.outcomes if group else None
        if group is None or o is None or not group.secondments.ended:
            continue
        body.append(
            (
                row.name,
                num(group.secondments.ended),
                num(o.end_reasons.get("TERMINATED_EARLY", 0)),
                num(o.post_arrangements.get("PROMOTED", 0)),
                num(o.promoted_after_return),
                pct(o.promotion_rate),
            )
        )
    blocks: list[Block] = [
        Heading("Kết quả sau biệt phái"),
        Heading("Bổ nhiệm sau biệt phái", 2),
        Table(("Chỉ tiêu", "Số liệu"), promotion_rows, (3, 1)),
        Heading("Tiếp nhận cán bộ và thời gian đáp ứng nhu cầu", 2),
        Table(("Chỉ tiêu", "Số liệu"), reception_rows, (3, 1)),
    ]
    if body:
        blocks += [
            Heading("Kết quả sau biệt phái theo địa phương cử cán bộ", 2),
            Table(header, tuple(body), (3.2, 1, 1.1, 1.1, 1.1, 1.1)),
        ]
    return blocks


def plan_findings(f: ReviewFigures) -> list[str]:
    """The province against its localities' plans, and who is behind by how many."""
    ev = f.evaluation
    plans = ev.plans
    if plans is None:
        return []
    day = short_date(ev.as_of)
    if not plans.localities:
        return [_no_plans(f, day)]
    p, count = plans.province, len(plans.localities)
    out = [
        sentence(
            f"Theo kế hoạch của {num(count)} địa phương, giai đoạn {f.phase.phase_id} cần cử "
            f"{num(p.planned)} cán bộ; đến ngày {day} đã cử {num(p.seconded)} lượt, đạt "
            f"{pct(p.progress)} kế hoạch (tiến độ cần đạt đến nay là {num(p.expected_to_date)})"
        )
    ]
    late = behind_localities(f)
    if late:
        named = [f"{name} (thiếu {num(shortfall(row))} người)" for name, row in late]
        out.append(
            sentence(
                f"Có {num(len(late))}/{num(count)} địa phương chậm so với tiến độ kế hoạch: "
                f"{listing(named, 'địa phương')}"
            )
        )
    else:
        out.append(sentence(f"Tất cả {num(count)} địa phương đều đạt tiến độ kế hoạch"))
    return out


def outcome_findings(f: ReviewFigures) -> list[str]:
    """Later promotions and their delay, receptions, and how long needs took to fill."""
    ev = f.evaluation
    s = ev.secondments
    out: list[str] = []
    if ev.promoted:
        text = (
            f"Trong {num(ev.promoted)} lượt được bổ nhiệm, {num(ev.promoted_after_return)} "
            "lượt được bổ nhiệm sau khi đã trở về công tác"
            if ev.promoted_after_return
            else f"Cả {num(ev.promoted)} lượt được bổ nhiệm đều được bổ nhiệm ngay khi bố trí "
            "công tác sau biệt phái"
        )
        delay = days(ev.promotion_delay_days)
        text += f"; thời gian từ khi kết thúc biệt phái đến khi được bổ nhiệm {delay}"
        out.append(sentence(text))
    if s.started:
        out.append(
            sentence(
                f"Cơ quan tiếp nhận đã ghi nhận tiếp nhận {num(s.received)}/{num(s.started)} "
                f"lượt biệt phái ({pct(ratio(s.received, s.started))})"
            )
        )
    if ev.time_to_fill_days.mean is not None:
        out.append(
            sentence(
                "Thời gian từ khi đăng ký nhu cầu đến khi bố trí đủ người "
                f"{days(ev.time_to_fill_days)}"
            )
        )
    return out
