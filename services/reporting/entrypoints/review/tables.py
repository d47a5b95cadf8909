"""The figures of the phase-review report as tables and charts: the headline blocks, the
ratings and arrangements, the previous phase beside this one, one row per home locality, and
the groups (hosts, sectors, ethnic groups with small cells withheld, gender). Every figure is
read from the evaluation as the dashboard shows it."""

from collections.abc import Sequence

from services.reporting.domain.evaluation import Evaluation, ratio
from services.reporting.entrypoints.exports import group_name
from services.reporting.entrypoints.i18n import LABELS
from services.reporting.entrypoints.review.charts import bar_chart
from services.reporting.entrypoints.review.document import Block, Figure, Heading, Paragraph, Table
from services.reporting.entrypoints.review.findings import RATING_NAMES, findings
from services.reporting.entrypoints.review.localities import localities
from services.reporting.entrypoints.review.vietnamese import num, pct
from services.reporting.service_layer.review import ReviewFigures

T = LABELS["vi"]


def _figure_rows(ev: Evaluation, block: str, keys: Sequence[str]) -> list[tuple[str, str]]:
    values = getattr(ev, block).model_dump()
    return [(T[k], pct(values[k]) if k.endswith("rate") else num(values[k])) for k in keys]


def results(f: ReviewFigures) -> list[Block]:
    """The headline figures, the ratings and what became of the officials."""
    ev = f.evaluation
    s = ev.secondments
    need_rows = _figure_rows(
        ev,
        "needs",
        (
            "raised",
            "withdrawn",
            "filled",
            "open",
            "positions_requested",
            "positions_filled",
            "fill_rate",
        ),
    )
    secondment_rows = _figure_rows(
        ev,
        "secondments",
        ("started", "officials", "active", "ended", "completed", "terminated_early", "overdue"),
    )
    d = ev.duration_days
    secondment_rows += [
        (f"{T['duration']} · {T['mean']}", num(d.mean)),
        (f"{T['duration']} · {T['median']}", num(d.median)),
        (f"{T['duration']} · {T['max']}", num(d.max)),
    ]
    rated = sum(ev.ratings.values())
    rating_rows = [
        (RATING_NAMES[k].capitalize(), num(n), pct(ratio(n, rated))) for k, n in ev.ratings.items()
    ]
    arrangements = [(T[k], num(n), pct(ratio(n, s.ended))) for k, n in ev.post_arrangements.items()]
    unarranged = s.ended - sum(ev.post_arrangements.values())
    arrangements.append(
        ("Chưa có quyết định bố trí", num(unarranged), pct(ratio(unarranged, s.ended)))
    )
    went = [
        (
            group_name("host_unit", code, "vi"),
            num(sum(codes.values())),
            num(codes.get("PROMOTED", 0)),
        )
        for code, codes in ev.post_arrangements_by_destination.items()
    ]
    blocks: list[Block] = [
        Heading("Kết quả thực hiện"),
        Heading("Nhu cầu tiếp nhận", 2),
        Table(("Chỉ tiêu", "Số liệu"), tuple(need_rows), (3, 1)),
        Heading("Cán bộ được biệt phái", 2),
        Table(("Chỉ tiêu", "Số liệu"), tuple(secondment_rows), (3, 1)),
        Heading("Đánh giá của cơ quan tiếp nhận và bố trí sau biệt phái", 2),
        Table(("Xếp loại", "Số lượt", "Tỷ lệ"), tuple(rating_rows), (3, 1, 1)),
        Table(
            ("Bố trí sau biệt phái", "Số lượt", "Tỷ lệ trên số lượt đã kết thúc"),
            tuple(arrangements),
            (3, 1, 1),
        ),
        Paragraph(f"{T['promotion_rate']}: {pct(ev.promotion_rate)}."),
    ]
    if went:
        blocks.append(
            Table(
                (T["destination"], "Số lượt bố trí", "Trong đó bổ nhiệm cao hơn"),
                tuple(went),
                (3, 1, 1),
            )
        )
    if rated:
        names = [RATING_NAMES[k].capitalize() for k in ev.ratings]
        png = bar_chart(names, [("Số lượt", list(ev.ratings.values()))])
        blocks.append(Figure("Đánh giá của cơ quan tiếp nhận", png))
    return blocks + comparison(f)


def comparison(f: ReviewFigures) -> list[Block]:
    """This phase beside the previous one, in totals and per year."""
    before, prev = f.previous, f.previous_phase
    if before is None or prev is None:
        return []
    ev, this = f.evaluation, f.phase.phase_id
    rows: list[tuple[str, str, str, str]] = []
    for key in ("started", "ended", "completed", "terminated_early", "officials"):
        a, b = getattr(before.secondments, key), getattr(ev.secondments, key)
        rows.append((T[key], num(a), num(b), num(b - a)))
    a_rate, b_rate = before.promotion_rate, ev.promotion_rate
    change = (
        "—"
        if a_rate is None or b_rate is None
        else f"{num(round((b_rate - a_rate) * 100, 2))} điểm %"
    )
    rows.append((T["promotion_rate"], pct(a_rate), pct(b_rate), change))
    blocks: list[Block] = [Heading(f"So sánh với giai đoạn {prev.phase_id}", 2)]
    header = ("Chỉ tiêu", prev.phase_id, this, T["difference"])
    chart: list[Block] = []
    if f.per_year:
        keys = ("started", "ended", "completed", "terminated_early")
        a_year = f.per_year[prev.phase_id]["secondments"]
        b_year = f.per_year[this]["secondments"]
        for key in keys:
            a, b = a_year[key], b_year[key]
            diff = None if a is None or b is None else round(b - a, 2)
            rows.append((f"{T[key]} (bình quân mỗi năm)", num(a), num(b), num(diff)))
        values = [[year[k] for k in keys] for year in (a_year, b_year)]
        if all(v is not None for phase_values in values for v in phase_values):
            series = [
                (f"Giai đoạn {p}", [v or 0.0 for v in phase_values])
                for p, phase_values in zip((prev.phase_id, this), values, strict=True)
            ]
            png = bar_chart([T[k] for k in keys], series)
            chart.append(Figure("Số lượt bình quân mỗi năm, hai giai đoạn", png))
    blocks += [Table(header, tuple(rows), (3, 1, 1, 1)), *chart]
    return blocks


def by_locality(f: ReviewFigures) -> list[Block]:
    """One row per home locality, those that sent no one included, and the total."""
    rows = localities(f)
    ev = f.evaluation
    header = (
        "Địa phương",
        T["started"],
        T["officials"],
        T["active"],
        T["ended"],
        T["terminated_early"],
        "Quá hạn",
        T["promoted"],
        T["promotion_rate"],
    )
    body = [
        (
            r.name,
            num(r.started),
            num(r.officials),
            num(r.active),
            num(r.ended),
            num(r.terminated_early),
            num(r.overdue),
            num(r.promoted),
            pct(ratio(r.promoted, r.ended)),
        )
        for r in rows
    ]
    s = ev.secondments
    body.append(
        (
            "Tổng cộng",
            num(s.started),
            num(s.officials),
            num(s.active),
            num(s.ended),
            num(s.terminated_early),
            num(s.overdue),
            num(ev.promoted),
            pct(ev.promotion_rate),
        )
    )
    blocks: list[Block] = [
        Heading("Kết quả theo địa phương cử cán bộ"),
        Paragraph(
            "Bảng dưới đây liệt kê từng địa phương miền núi của giai đoạn, kể cả địa phương "
            "chưa cử cán bộ nào; tỷ lệ được bổ nhiệm tính trên số lượt đã kết thúc."
        ),
        Table(header, tuple(body), (3.2, 1, 1, 1, 1, 1.1, 1, 1.1, 1.2), total=True),
    ]
    sent = [r for r in rows if r.started]
    if sent:
        png = bar_chart(
            [r.name for r in sent],
            [
                (T["started"], [r.started for r in sent]),
                (T["ended"], [r.ended for r in sent]),
                (T["promoted"], [r.promoted for r in sent]),
            ],
        )
        blocks.append(Figure("Số lượt biệt phái của các địa phương đã cử cán bộ", png))
    return blocks


def by_group(f: ReviewFigures) -> list[Block]:
    """Hosts and sectors (with their needs), ethnic groups (small cells withheld), gender."""
    ev = f.evaluation
    blocks: list[Block] = [Heading("Kết quả theo cơ quan tiếp nhận, lĩnh vực và nhóm cán bộ")]
    for name, dimension, title in (
        ("by_host_unit", "host_unit", "Cơ quan tiếp nhận"),
        ("by_sector", "sector", "Lĩnh vực"),
    ):
        header = (
            title,
            T["raised"],
            T["positions_requested"],
            T["positions_filled"],
            T["fill_rate"],
            T["started"],
            T["ended"],
            T["promoted"],
        )
        body = tuple(
            (
                group_name(dimension, code, "vi"),
                num(g.needs.raised),
                num(g.needs.positions_requested),
                num(g.needs.positions_filled),
                pct(g.needs.fill_rate),
                num(g.secondments.started),
                num(g.secondments.ended),
                num(g.promoted),
            )
            for code, g in getattr(ev, name).items()
        )
        blocks += [Heading(T[name], 2), Table(header, body, (3.2, 1, 1, 1, 1, 1, 1, 1.1))]
    columns = ("started", "active", "ended", "completed", "terminated_early", "officials")
    ethnic = tuple(
        (
            group_name("ethnicity", code, "vi"),
            *(num(getattr(g.secondments, c)) for c in columns),
            num(g.promoted),
        )
        for code, g in ev.by_ethnicity.items()
    )
    blocks += [
        Heading(T["by_ethnicity"], 2),
        Table(
            ("Dân tộc", *(T[c] for c in columns), T["promoted"]),
            ethnic,
            (2.6, 1, 1, 1, 1.1, 1.1, 1, 1.1),
        ),
        Paragraph(T["suppressed_note"].format(n=ev.small_cell_threshold - 1), note=True),
    ]
    gender = tuple(
        (T.get(code, code), num(g.secondments.started), num(g.secondments.ended), num(g.promoted))
        for code, g in ev.by_gender.items()
    )
    blocks += [
        Heading(T["by_gender"], 2),
        Table(("Giới tính", T["started"], T["ended"], T["promoted"]), gender, (3, 1, 1, 1)),
    ]
    return blocks


def findings_section(f: ReviewFigures) -> list[Block]:
    """The findings, one bullet each."""
    return [Heading("Nhận xét, đánh giá"), *(Paragraph(s, bullet=True) for s in findings(f))]
