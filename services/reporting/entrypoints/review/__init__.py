"""The written phase review (issue 13, item 6): a Vietnamese report leadership signs, as PDF
and DOCX, built from the same figures the dashboard and the evaluation API show."""

import datetime as dt

from services.reporting.entrypoints.review.content import build_review
from services.reporting.entrypoints.review.pdf import to_pdf
from services.reporting.entrypoints.review.word import to_docx
from services.reporting.service_layer.review import ReviewFigures


def review_file(figures: ReviewFigures, fmt: str, generated_on: dt.date) -> bytes:
    """The report in `fmt` ("pdf" or "docx")."""
    review = build_review(figures, generated_on)
    return to_pdf(review) if fmt == "pdf" else to_docx(review)


__all__ = ["build_review", "review_file", "to_docx", "to_pdf"]
