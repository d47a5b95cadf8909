"""The evaluation as CSV, XLSX and a PDF phase-review report (Vietnamese by default).

The locality plans (`plans`) are in all three: the province's figures in the summary (group
empty), each locality's under its code, and a plan-against-actual table by year.

The PDF embeds DejaVu Sans (vendored in `static/`, Bitstream Vera licence), which covers
every Vietnamese letter and tone mark, so the report reads the same on any machine.
"""

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook

from services.reporting.domain.counts import ARRANGEMENTS, RATINGS
from services.reporting.domain.evaluation import Evaluation
from services.reporting.domain.plans import PlanProgressRow
from services.reporting.entrypoints.i18n import LABELS, format_date, format_number, format_percent
from shared.reference import reference_data
from shared.spreadsheets import neutralised

STATIC = Path(__file__).parent / "static"
FONT_REGULAR = STATIC / "DejaVuSans.ttf"
FONT_BOLD = STATIC / "DejaVuSans-Bold.ttf"
BREAKDOWNS = ("by_home_unit", "by_host_unit", "by_sector", "by_ethnicity", "by_gender")
RATES = {"fill_rate", "promotion_rate", "progress"}
LABEL_KEYS = {"behind_plan": "behind"}  # a locality's flag, not the alert's list
OUTCOME_BREAKDOWNS = ("by_home_unit", "by_host_unit", "by_sector")


def group_name(dimension: str, code: str, lang: str) -> str:
    """A breakdown group's display name (reference data), falling back to its code."""
    ref = reference_data()
    en = lang == "en"
    if dimension in ("home_unit", "host_unit"):
        unit = ref.unit(code)
        return (unit.name_en if en else unit.name) if unit else code
    if dimension == "sector":
        sector = ref.sector(code)
        return (sector.name_en if en else sector.name) if sector else code
    if dimension == "ethnicity":
        group = ref.ethnicity(code)
        return (group.name_en if en else group.name) if group else code
    return LABELS[lang].get(code, code)


def _cells(values: list[Any]) -> list[Any]:
    return [neutralised(v) for v in values]


def rows(ev: Evaluation) -> Iterator[tuple[str, str, str, Any]]:
    """(section, group, measure, value) for every figure of the evaluation."""
    for key, value in ev.needs.model_dump().items():
        yield "needs", "", key, value
    for key, value in ev.secondments.model_dump().items():
        yield "secondments", "", key, value
    for key, value in ev.duration_days.model_dump().items():
        yield "duration_days", "", key, value
    for key, value in ev.ratings.items():
        yield "ratings", "", key, value
    for key, value in ev.post_arrangements.items():
        yield "post_arrangements", "", key, value
    for unit, codes in ev.post_arrangements_by_destination.items():
        for key, value in codes.items():
            yield "post_arrangements_by_destination", unit, key, value
    yield "outcomes", "", "promotion_rate", ev.promotion_rate
    yield "outcomes", "", "promoted", ev.promoted
    yield "outcomes", "", "promoted_after_return", ev.promoted_after_return
    for key, value in ev.promotion_delay_days.model_dump().items():
        yield "outcomes", "", f"promotion_delay_days.{key}", value
    for key, value in ev.time_to_fill_days.model_dump().items():
        yield "time_to_fill_days", "", key, value
    for name in BREAKDOWNS:
        for code, group in getattr(ev, name).items():
            for measure, value in group_measures(group.model_dump()):
                yield name, code, measure, value
    if ev.plans is not None:
        for measure, value in plan_measures(ev.plans.province):
            yield "plans", "", measure, value
        for code, locality in ev.plans.localities.items():
            for measure, value in plan_measures(locality):
                yield "plans", code, measure, value
            yield "plans", code, "decisions", "; ".join(locality.decisions)


def plan_measures(row: PlanProgressRow) -> Iterator[tuple[str, Any]]:
    """Plan against actual for a locality or the province: the totals, then each year."""
    for key in ("planned", "expected_to_date", "seconded", "behind_plan", "progress"):
        yield key, getattr(row, key)
    for year in row.years:
        yield f"years.{year.year}.planned", year.planned
        yield f"years.{year.year}.seconded", year.seconded


def group_measures(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """A breakdown group's figures as (dotted measure, value), outcomes included."""
    for block in ("needs", "secondments"):
        for key, value in (data.get(block) or {}).items():
            yield f"{block}.{key}", value
    yield "promoted", data["promoted"]
    outcomes = data.get("outcomes")
    if outcomes:
        for part in ("ratings", "end_reasons", "post_arrangements"):
            for key, value in outcomes[part].items():
                yield f"outcomes.{part}.{key}", value
        yield "outcomes.promoted_after_return", outcomes["promoted_after_return"]
        yield "outcomes.promotion_rate", outcomes["promotion_rate"]


def _label(measure: str, lang: str) -> str:
    t = LABELS[lang]
    return " · ".join(t.get(LABEL_KEYS.get(part, part), part) for part in measure.split("."))


def to_csv(ev: Evaluation, lang: str = "vi") -> bytes:
    """UTF-8 (with BOM, for spreadsheets) CSV: section, group, measure, label, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a CR in text is quoted
    writer.writerow(
        _cells(["phase_id", ev.phase_id, "as_of", ev.as_of.isoformat(), "rollup", ev.rollup])
    )
    writer.writerow(["section", "group", "measure", "label", "value"])
    for section, group, measure, value in rows(ev):
        writer.writerow(
            _cells([section, group, measure, _label(measure, lang), "" if value is None else value])
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(ev: Evaluation, lang: str = "vi") -> bytes:
    """A workbook: a summary sheet, then one sheet per breakdown (groups × measures).

    Every row goes through `_cells`: openpyxl would store text starting with `=` as a formula.
    """
    t = LABELS[lang]
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Tổng hợp" if lang == "vi" else "Summary"
    summary.append(_cells([t["phase"], ev.phase_id]))
    summary.append(_cells([t["as_of"], ev.as_of]))
    summary.append(_cells([t["filters"], _filters_text(ev, lang)]))
    summary.append([])
    summary.append(_cells([t["section"], t["metric"], t["value"], "section", "measure"]))
    for section, group, measure, value in rows(ev):
        if group:
            continue
        summary.append(
            _cells([t.get(section, section), _label(measure, lang), value, section, measure])
        )
    summary.column_dimensions["A"].width = 34
    summary.column_dimensions["B"].width = 34
    for name in BREAKDOWNS:
        groups = getattr(ev, name)
        sheet = book.create_sheet(name)
        measures: list[str] = []
        for group in groups.values():
            measures = [m for m, _ in group_measures(group.model_dump())]
            break
        sheet.append(_cells([t["group"], "code", *(_label(m, lang) for m in measures)]))
        sheet.append(_cells(["", "", *measures]))
        dimension = name.removeprefix("by_")
        for code, group in groups.items():
            data = group.model_dump()
            values = [_pick(data, m) for m in measures]
            sheet.append(_cells([group_name(dimension, code, lang), code, *values]))
        sheet.column_dimensions["A"].width = 36
    _destinations_sheet(book.create_sheet("by_destination"), ev, lang)
    if ev.plans is not None:
        _plans_sheet(book.create_sheet("plans"), ev, lang)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _destinations_sheet(sheet: Any, ev: Evaluation, lang: str) -> None:
    """One row per destination unit: ended secondments per post arrangement that went there."""
    t = LABELS[lang]
    posts = list(ev.post_arrangements)
    sheet.append(_cells([t["destination"], "code", *(t.get(p, p) for p in posts)]))
    sheet.append(_cells(["", "", *posts]))
    for code, codes in ev.post_arrangements_by_destination.items():
        counts = [codes.get(p, 0) for p in posts]
        sheet.append(_cells([group_name("host_unit", code, lang), code, *counts]))
    sheet.column_dimensions["A"].width = 36


def _plans_sheet(sheet: Any, ev: Evaluation, lang: str) -> None:
    """One row per locality with a plan in force, then the province: totals and each year."""
    t = LABELS[lang]
    assert ev.plans is not None
    measures = [m for m, _ in plan_measures(ev.plans.province)]
    sheet.append(_cells([t["locality"], "code", *(_label(m, lang) for m in measures)]))
    sheet.append(_cells(["", "", *measures]))
    for code, locality in ev.plans.localities.items():
        values = [v for _, v in plan_measures(locality)]
        sheet.append(_cells([group_name("home_unit", code, lang), code, *values]))
    sheet.append(_cells([t["province"], "", *(v for _, v in plan_measures(ev.plans.province))]))
    sheet.column_dimensions["A"].width = 36


def _pick(data: dict[str, Any], measure: str) -> Any:
    value: Any = data
    for part in measure.split("."):
        value = value[part]
    return value


def _filters_text(ev: Evaluation, lang: str) -> str:
    t = LABELS[lang]
    parts = [
        f"{t[k]}: {group_name(k, v, lang)}"
        for k, v in ev.filters.model_dump().items()
        if v is not None
    ]
    if ev.rollup == "successor":
        parts.append(t["rollup"])
    return "; ".join(parts) or t["all"]


def _value_text(measure: str, value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return LABELS[lang]["behind"] if value else "—"
    if measure.split(".")[-1] in RATES:
        return format_percent(value, lang)
    return format_number(value, lang)


class _Report(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.cell(0, 8, f"{self._footer_text} — {self.page_no()}", align="C")


def to_pdf(ev: Evaluation, lang: str = "vi", generated_on: dt.date | None = None) -> bytes:
    """The phase-review report: headline figures, outcomes and the breakdowns."""
    t = LABELS[lang]
    pdf = _Report(f"{t['report_title']} {ev.phase_id}")
    pdf.add_font("DejaVu", "", str(FONT_REGULAR))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, f"{t['report_title']} {ev.phase_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    pdf.multi_cell(0, 6, t["title"], new_x="LMARGIN", new_y="NEXT")
    meta = [
        f"{t['as_of']}: {format_date(ev.as_of, lang)}",
        f"{t['filters']}: {_filters_text(ev, lang)}",
    ]
    if generated_on is not None:
        meta.append(f"{t['generated']}: {format_date(generated_on, lang)}")
    for line in meta:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font("DejaVu", "B", 12)
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=9)

    def table(header: list[str], body: list[list[str]], widths: tuple[int, ...]) -> None:
        bold = FontFace(emphasis="BOLD", fill_color=(230, 236, 245))
        with pdf.table(col_widths=widths, headings_style=bold, text_align="LEFT") as tbl:
            tbl.row(header)
            for line in body:
                tbl.row(line)

    summary: dict[str, list[list[str]]] = {}
    for section, group, measure, value in rows(ev):
        if not group:
            summary.setdefault(section, []).append(
                [_label(measure, lang), _value_text(measure, value, lang)]
            )
    titles = {
        "needs": t["needs"],
        "secondments": t["secondments"],
        "duration_days": t["duration"],
        "ratings": t["ratings"],
        "post_arrangements": t["post_arrangements"],
        "outcomes": t["outcomes"],
        "time_to_fill_days": t["time_to_fill_days"],
    }
    for section, title in titles.items():
        heading(title)
        table([t["metric"], t["value"]], summary[section], (3, 1))

    columns = ("started", "active", "ended", "completed", "terminated_early", "officials")
    for name in BREAKDOWNS:
        groups = getattr(ev, name)
        if not groups:
            continue
        heading(t[name])
        header = [t["group"], *(t[c] for c in columns), t["promoted"]]
        body = []
        dimension = name.removeprefix("by_")
        for code, group in groups.items():
            cells = group.secondments.model_dump()
            body.append(
                [
                    group_name(dimension, code, lang),
                    *(format_number(cells[c], lang) for c in columns),
                    format_number(group.promoted, lang),
                ]
            )
        table(header, body, (4, 1, 1, 1, 1, 1, 1, 1))
        if name in OUTCOME_BREAKDOWNS:
            _outcomes_table(ev, name, lang, table)
        if name == "by_ethnicity":
            pdf.set_font("DejaVu", size=8)
            note = t["suppressed_note"].format(n=ev.small_cell_threshold - 1)
            pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    if ev.plans is not None and ev.plans.localities:
        heading(t["plans"])
        header, body = plans_table(ev, lang)
        table(header, body, (4, *(2,) * (len(header) - 1)))
    return bytes(pdf.output())


def plans_table(ev: Evaluation, lang: str) -> tuple[list[str], list[list[str]]]:
    """Plan against actual per locality and for the province: each year's planned / seconded,
    the phase's planned, the pace expected by `as_of`, seconded, progress, behind or not."""
    t = LABELS[lang]
    assert ev.plans is not None
    years = [y.year for y in ev.plans.province.years]
    header = [
        t["locality"],
        *(t["plan_year"].format(year=y) for y in years),
        t["planned"],
        t["expected_to_date"],
        t["seconded"],
        t["progress"],
        t["behind"],
    ]

    def line(name: str, row: PlanProgressRow) -> list[str]:
        return [
            name,
            *(
                f"{format_number(y.planned, lang)} / {format_number(y.seconded, lang)}"
                for y in row.years
            ),
            format_number(row.planned, lang),
            format_number(row.expected_to_date, lang),
            format_number(row.seconded, lang),
            format_percent(row.progress, lang),
            _value_text("behind_plan", row.behind_plan, lang),
        ]

    body = [
        line(group_name("home_unit", code, lang), row) for code, row in ev.plans.localities.items()
    ]
    body.append(line(t["province"], ev.plans.province))
    return header, body


def _outcomes_table(ev: Evaluation, name: str, lang: str, table: Any) -> None:
    """What became of each group's officials: ratings, early ends, posts, promotion rate."""
    t = LABELS[lang]
    ratings, posts = RATINGS, ARRANGEMENTS
    header = [
        f"{t['group']} · {t['outcomes_by']}",
        *(t[r] for r in ratings),
        t["terminated_early"],
        *(t[p] for p in posts),
        t["promoted_after_return"],
        t["promotion_rate"],
    ]
    body = []
    dimension = name.removeprefix("by_")
    for code, group in getattr(ev, name).items():
        o = group.outcomes
        if o is None:
            continue
        body.append(
            [
                group_name(dimension, code, lang),
                *(format_number(o.ratings[r], lang) for r in ratings),
                format_number(o.end_reasons["TERMINATED_EARLY"], lang),
                *(format_number(o.post_arrangements[p], lang) for p in posts),
                format_number(o.promoted_after_return, lang),
                format_percent(o.promotion_rate, lang),
            ]
        )
    if body:
        table(header, body, (4, *(1,) * 11))
