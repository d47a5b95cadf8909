"""The phase-review report as format-neutral blocks: one content, two renderers (PDF and
DOCX), so the two files always say the same thing."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    """A section (level 1, numbered I, II, …) or subsection (level 2, numbered 1, 2, …)."""

    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    """Body text; a bullet is a finding, a note is small print under a table."""

    text: str
    bullet: bool = False
    note: bool = False


@dataclass(frozen=True)
class Table:
    """A table whose first column names the row and the others hold figures (right-aligned);
    with `total`, its last row is the total and printed bold."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    total: bool = False


@dataclass(frozen=True)
class Figure:
    """A chart (PNG, rendered once and embedded in both formats) with its caption."""

    caption: str
    png: bytes


Block = Heading | Paragraph | Table | Figure


@dataclass(frozen=True)
class TitlePage:
    """What the first page carries: the issuing authority, the national motto, place and date,
    the title, the phase's facts, and the draft marking."""

    authority: tuple[str, ...]
    number: str
    place_date: str
    title: str
    subtitle: str
    facts: tuple[str, ...]
    draft_mark: str


@dataclass(frozen=True)
class Signature:
    """Recipients on the left, the signatory's block on the right."""

    recipients: tuple[str, ...]
    on_behalf: str
    role: str
    instruction: str


@dataclass(frozen=True)
class Review:
    """The whole report."""

    title: TitlePage
    blocks: tuple[Block, ...]
    signature: Signature
    running_head: str


NATIONAL = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
"""The national name and motto every administrative document carries, top right."""

ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def numbered(blocks: list[Block]) -> tuple[Block, ...]:
    """Sections numbered I, II, …, subsections 1, 2, … within each, charts "Biểu đồ 1", …:
    numbers are given last, so a section added later renumbers the rest."""
    out: list[Block] = []
    section = sub = chart = 0
    for block in blocks:
        if isinstance(block, Heading) and block.level == 1:
            section, sub = section + 1, 0
            block = Heading(f"{ROMAN[section - 1]}. {block.text.upper()}", 1)
        elif isinstance(block, Heading):
            sub += 1
            block = Heading(f"{sub}. {block.text}", block.level)
        elif isinstance(block, Figure):
            chart += 1
            block = Figure(f"Biểu đồ {chart}. {block.caption}", block.png)
        out.append(block)
    return tuple(out)
