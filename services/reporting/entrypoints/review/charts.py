"""Bar charts for the phase-review report, drawn once as PNG and embedded in both the PDF and
the DOCX: no display server, no plotting library. Pillow (with FreeType) is already there for
fpdf2; the labels use the DejaVu Sans the PDF embeds, so Vietnamese reads the same."""

import io
import math
from collections.abc import Sequence
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from services.reporting.entrypoints.exports import FONT_REGULAR
from services.reporting.entrypoints.review.vietnamese import num

WIDTH = 1600
"""Pixels; printed 16–17 cm wide, so about 240 dpi."""
COLOURS = ((54, 98, 168), (232, 142, 46), (76, 153, 90), (140, 140, 140))
INK = (34, 34, 34)
GRID = (215, 219, 226)
BAR, GAP, PAD = 28, 22, 24


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_REGULAR), size)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont) -> float:
    return draw.textlength(text, font=font)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, room: float) -> str:
    """The label, shortened with "…" when it does not fit."""
    if _text_width(draw, text, font) <= room:
        return text
    while text and _text_width(draw, text + "…", font) > room:
        text = text[:-1]
    return text.rstrip() + "…"


def nice_step(rough: float) -> float:
    """The tick step: 1, 2 or 5 times a power of ten, at least `rough` (at least 1)."""
    if rough <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def bar_chart(
    categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | int]]]
) -> bytes:
    """Horizontal bars, one group per category, one bar per series, each with its value; a
    legend on top when there is more than one series."""
    label_font, value_font = _font(26), _font(22)
    per_group = BAR * len(series) + GAP
    legend = 56 if len(series) > 1 else 0
    height = PAD * 2 + legend + per_group * max(len(categories), 1) + 30
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    left = min(
        max((_text_width(draw, c, label_font) for c in categories), default=0) + PAD * 2,
        WIDTH * 0.38,
    )
    right = WIDTH - PAD - 90
    top = PAD + legend
    if legend:
        x = float(left)
        for index, (name, _) in enumerate(series):
            draw.rectangle((x, PAD + 8, x + 26, PAD + 34), fill=COLOURS[index % len(COLOURS)])
            draw.text((x + 36, PAD + 6), name, font=label_font, fill=INK)
            x += 36 + _text_width(draw, name, label_font) + 48
    largest = max((float(v) for _, values in series for v in values), default=0.0)
    step = nice_step(largest / 4)
    ticks = max(math.ceil(largest / step), 1)
    scale = (right - left) / (step * ticks)
    bottom = top + per_group * max(len(categories), 1)
    for index in range(ticks + 1):
        x = left + index * step * scale
        draw.line((x, top, x, bottom), fill=GRID, width=2)
        tick = num(round(index * step, 2))
        draw.text((x, bottom + 4), tick, font=value_font, fill=INK, anchor="ma")
    for row, category in enumerate(categories):
        y = top + row * per_group + GAP / 2
        label = _fit(draw, category, label_font, left - PAD * 2)
        middle = y + BAR * len(series) / 2
        draw.text((left - PAD, middle), label, font=label_font, fill=INK, anchor="rm")
        for index, (_, values) in enumerate(series):
            value = float(values[row])
            y0 = y + index * BAR
            if value > 0:
                draw.rectangle(
                    (left, y0 + 3, left + value * scale, y0 + BAR - 3),
                    fill=COLOURS[index % len(COLOURS)],
                )
            at = (left + value * scale + 8, y0 + BAR / 2)
            draw.text(at, num(values[row]), font=value_font, fill=INK, anchor="lm")
    draw.line((left, top, left, bottom), fill=INK, width=2)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
