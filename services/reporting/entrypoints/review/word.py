"""The phase-review report as DOCX (python-docx), for leadership to edit before signing:
Times New Roman 13 pt on A4 as administrative documents are set; "DỰ THẢO" heads every page;
the same blocks and the same chart images as the PDF."""

import io
import re

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table as DocxTable
from docx.table import _Cell
from PIL import Image

from services.reporting.entrypoints.review.document import (
    NATIONAL,
    Figure,
    Heading,
    Paragraph,
    Review,
    Table,
)

FONT = "Times New Roman"
RED = RGBColor(0xAA, 0x1E, 0x1E)
TEXT_WIDTH_MM = 165
MAX_FIGURE_HEIGHT_MM = 220
"""A chart taller than this (many localities) is narrowed to fit one page."""


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    """The text without the control characters XML cannot hold (a filter value echoed in the
    scope line may carry one): dropped, as the PDF does not show them either."""
    return _NOT_XML.sub("", text)


def _styles(doc: DocumentObject) -> None:
    for name in ("Normal", "Heading 1", "Heading 2", "Caption"):
        style = doc.styles[name]
        font = style.font
        font.name = FONT
        font.color.rgb = RGBColor(0, 0, 0)
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), FONT)
        fonts.set(qn("w:cs"), FONT)
        for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(theme), None)  # a theme font would win over the name
    doc.styles["Normal"].font.size = Pt(13)
    doc.styles["Heading 1"].font.size = Pt(13)
    doc.styles["Heading 2"].font.size = Pt(13)


def _page(doc: DocumentObject, running_head: str) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    head = section.header.paragraphs[0]
    head.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = head.add_run(_xml(running_head))
    run.bold, run.font.size, run.font.color.rgb = True, Pt(9), RED


def _line(
    where: DocumentObject | _Cell,
    text: str,
    *,
    bold: bool = False,
    size: float = 13,
    centre: bool = True,
) -> None:
    paragraph = where.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if centre else WD_ALIGN_PARAGRAPH.LEFT
    paragraph.paragraph_format.space_after = Pt(0)
    run = paragraph.add_run(_xml(text))
    run.bold, run.font.size = bold, Pt(size)


def _two_columns(doc: DocumentObject, widths: tuple[float, float]) -> DocxTable:
    grid: DocxTable = doc.add_table(rows=1, cols=2)
    grid.autofit = False
    for cell, width in zip(grid.rows[0].cells, widths, strict=True):
        cell.width = Mm(width)
        cell.paragraphs[0].paragraph_format.space_after = Pt(0)
    return grid


def _title_page(doc: DocumentObject, review: Review) -> None:
    page = review.title
    left, right = _two_columns(doc, (70, 95)).rows[0].cells
    for line in page.authority:
        _line(left, line, bold=True, size=12)
    _line(left, page.number, size=12)
    for line in NATIONAL:
        _line(right, line, bold=True, size=12)
    _line(right, page.place_date, size=12)
    mark = doc.add_paragraph()
    mark.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = mark.add_run(_xml(page.draft_mark))
    run.bold, run.font.size, run.font.color.rgb = True, Pt(14), RED
    doc.add_paragraph()
    _line(doc, page.title, bold=True, size=16)
    _line(doc, page.subtitle, bold=True, size=13)
    doc.add_paragraph()
    for fact in page.facts:
        _line(doc, fact, centre=False)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _table(doc: DocumentObject, table: Table) -> None:
    grid = doc.add_table(rows=1, cols=len(table.header))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    total = sum(table.widths)
    size = Pt(9 if len(table.header) > 4 else 11)
    rows = [table.header, *table.rows]
    for index, values in enumerate(rows):
        cells = grid.rows[0].cells if index == 0 else grid.add_row().cells
        bold = index == 0 or (table.total and index == len(rows) - 1)
        for column, (cell, text) in enumerate(zip(cells, values, strict=True)):
            cell.width = Mm(TEXT_WIDTH_MM * table.widths[column] / total)
            paragraph = cell.paragraphs[0]
            paragraph.paragraph_format.space_after = Pt(0)
            if index == 0:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            elif column:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            run = paragraph.add_run(_xml(text))
            run.bold, run.font.size = bold, size
    doc.add_paragraph()


def _signature(doc: DocumentObject, review: Review) -> None:
    sign = review.signature
    doc.add_paragraph()
    left, right = _two_columns(doc, (80, 85)).rows[0].cells
    for index, line in enumerate(sign.recipients):
        _line(left, line, bold=index == 0, size=12 if index == 0 else 11, centre=False)
    _line(right, sign.on_behalf, bold=True)
    _line(right, sign.role, bold=True)
    _line(right, sign.instruction, size=11)


def to_docx(review: Review) -> bytes:
    """The report as DOCX bytes."""
    doc = Document()
    _styles(doc)
    _page(doc, review.running_head)
    _title_page(doc, review)
    for block in review.blocks:
        if isinstance(block, Heading):
            doc.add_heading(_xml(block.text), level=block.level)
        elif isinstance(block, Paragraph):
            style = "List Bullet" if block.bullet else None
            paragraph = doc.add_paragraph(_xml(block.text), style=style)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            if block.note:
                for run in paragraph.runs:
                    run.font.size = Pt(10)
                    run.italic = True
        elif isinstance(block, Table):
            _table(doc, block)
        elif isinstance(block, Figure):
            pixels_wide, pixels_high = Image.open(io.BytesIO(block.png)).size
            width = min(TEXT_WIDTH_MM - 5, MAX_FIGURE_HEIGHT_MM * pixels_wide / pixels_high)
            doc.add_picture(io.BytesIO(block.png), width=Mm(width))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            caption = doc.add_paragraph(_xml(block.caption), style="Caption")
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _signature(doc, review)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
