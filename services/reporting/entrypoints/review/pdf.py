"""The phase-review report as PDF (fpdf2, DejaVu Sans embedded as in the evaluation's PDF, so
every Vietnamese letter and tone renders on any machine); "DỰ THẢO" heads every page."""

import io

from fpdf import FPDF
from fpdf.enums import Align
from fpdf.fonts import FontFace
from PIL import Image

from services.reporting.entrypoints.exports import FONT_BOLD, FONT_REGULAR
from services.reporting.entrypoints.review.document import (
    NATIONAL,
    Figure,
    Heading,
    Paragraph,
    Review,
    Table,
)

FONT = "DejaVu"
WIDTH = 180.0
"""Text width in mm: A4 less 20 mm margins each side."""
MAX_FIGURE_HEIGHT = 230.0
"""mm: a chart taller than this (many localities) is narrowed to fit one page."""


class _Pages(FPDF):
    def __init__(self, review: Review) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.review = review
        self.set_margins(20, 16, 20)
        self.set_auto_page_break(auto=True, margin=16)
        self.add_font(FONT, "", str(FONT_REGULAR))
        self.add_font(FONT, "B", str(FONT_BOLD))

    def header(self) -> None:
        self.set_font(FONT, "B", 8)
        self.set_text_color(170, 30, 30)
        self.cell(0, 5, self.review.running_head, align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.cell(0, 8, str(self.page_no()), align="C")


def _title_page(pdf: _Pages) -> None:
    page = pdf.review.title
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 10)
    for line in page.authority:
        pdf.set_x(20)
        pdf.multi_cell(72, 5, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.set_x(20)
    pdf.multi_cell(72, 6, page.number, align="C", new_x="LMARGIN", new_y="NEXT")
    left_end = pdf.get_y()
    pdf.set_y(top)
    pdf.set_font(FONT, "B", 10)
    for line in NATIONAL:
        pdf.set_x(92)
        pdf.multi_cell(98, 5, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.set_x(92)
    pdf.multi_cell(98, 6, page.place_date, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_end, pdf.get_y()) + 10)
    pdf.set_font(FONT, "B", 14)
    pdf.set_draw_color(170, 30, 30)
    pdf.set_text_color(170, 30, 30)
    pdf.set_x(150)
    pdf.cell(40, 10, page.draft_mark, border=1, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.ln(20)
    pdf.set_font(FONT, "B", 18)
    pdf.multi_cell(0, 10, page.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(0, 7, page.subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(14)
    pdf.set_font(FONT, size=11)
    for fact in page.facts:
        pdf.multi_cell(0, 7, fact, align="L", new_x="LMARGIN", new_y="NEXT")


def _table(pdf: _Pages, table: Table) -> None:
    pdf.set_font(FONT, size=8 if len(table.header) > 4 else 9)
    bold = FontFace(emphasis="BOLD", fill_color=(230, 236, 245))
    align = ("LEFT", *("RIGHT" for _ in table.header[1:]))
    with pdf.table(
        col_widths=table.widths,
        headings_style=bold,
        text_align=align,
        line_height=4.6,
        padding=1,
    ) as grid:
        heading = grid.row()
        for text in table.header:
            heading.cell(text, align=Align.C)
        for index, values in enumerate(table.rows):
            last = table.total and index == len(table.rows) - 1
            row = grid.row(style=FontFace(emphasis="BOLD") if last else None)
            for text in values:
                row.cell(text)
    pdf.ln(3)


def _signature(pdf: _Pages) -> None:
    sign = pdf.review.signature
    pdf.ln(8)
    if pdf.get_y() > 220:
        pdf.add_page()
    top = pdf.get_y()
    for index, line in enumerate(sign.recipients):
        pdf.set_font(FONT, "B" if index == 0 else "", 9 if index == 0 else 8)
        pdf.set_x(20)
        pdf.multi_cell(80, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(top)
    pdf.set_font(FONT, "B", 11)
    for line in (sign.on_behalf, sign.role):
        pdf.set_x(110)
        pdf.multi_cell(80, 6, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    pdf.set_x(110)
    pdf.multi_cell(80, 6, sign.instruction, align="C", new_x="LMARGIN", new_y="NEXT")


def _figure(pdf: _Pages, png: bytes) -> None:
    """The chart at 92 % of the text width, narrower if it would not fit on a page."""
    pixels_wide, pixels_high = Image.open(io.BytesIO(png)).size
    width = min(WIDTH * 0.92, MAX_FIGURE_HEIGHT * pixels_wide / pixels_high)
    height = width * pixels_high / pixels_wide
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
    pdf.image(io.BytesIO(png), w=width, x=20 + (WIDTH - width) / 2)


def to_pdf(review: Review) -> bytes:
    """The report as PDF bytes."""
    pdf = _Pages(review)
    pdf.add_page()
    _title_page(pdf)
    pdf.add_page()
    for block in review.blocks:
        if isinstance(block, Heading):
            pdf.ln(3 if block.level == 1 else 1)
            pdf.set_font(FONT, "B", 12 if block.level == 1 else 11)
            pdf.multi_cell(0, 7, block.text, new_x="LMARGIN", new_y="NEXT")
        elif isinstance(block, Paragraph):
            pdf.set_font(FONT, size=8 if block.note else 10.5)
            text = f"– {block.text}" if block.bullet else block.text
            pdf.multi_cell(
                0, 4.5 if block.note else 6, text, align="J", new_x="LMARGIN", new_y="NEXT"
            )
            pdf.ln(1)
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, Figure):
            _figure(pdf, block.png)
            pdf.set_font(FONT, size=9)
            pdf.multi_cell(0, 5, block.caption, align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    _signature(pdf)
    return bytes(pdf.output())
