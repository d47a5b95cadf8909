"""The refusal report (CSV for Excel) and the closing summary."""

import csv
from pathlib import Path

from services.importer.outcomes import ImportReport
from shared.spreadsheets import neutralised

REPORT_COLUMNS = ("row", "step", "rule", "message")
"""The reason columns; the refused row's own columns follow, headers as in the source file,
so the report can be corrected and imported again (unknown columns are ignored)."""


def write_report(report: ImportReport, headers: tuple[str, ...], path: Path) -> None:
    """Refused rows with their reasons, UTF-8 with a BOM so that Excel shows Vietnamese, no
    cell readable as a formula."""
    own = [h for h in headers if h]
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*REPORT_COLUMNS, *own])
        for result in report.refused:
            assert result.refusal is not None
            refusal = result.refusal
            cells = [
                result.row.number,
                refusal.step.value,
                refusal.rule,
                refusal.message,
                *(result.row.original.get(h, "") for h in own),
            ]
            # The rows come from someone else's file: a cell such as =HYPERLINK(...) must
            # not run in the Excel of whoever opens the report to correct them.
            writer.writerow([neutralised(c) for c in cells])


def summary_lines(report: ImportReport, report_path: Path | None, rows: int) -> list[str]:
    """What the run did with the file's `rows` data rows, Vietnamese first."""
    done = len(report.results)
    counted = f"{done}" if done == rows else f"{done} / {rows}"
    lines = [
        f"Số dòng / rows: {counted}   ({report.seconds:.1f} s)",
        f"  Đã nhập / imported:                 {report.imported}",
        f"  Đã có từ trước / already present:   {report.present}",
        f"  Bị từ chối / refused:               {len(report.refused)}",
    ]
    for rule, count in sorted(report.by_rule().items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"      {rule}: {count}")
    if report.refused and report_path is not None:
        lines.append(f"Báo cáo dòng bị từ chối / refused rows: {report_path}")
    if report.aborted:
        lines.append(f"Dừng giữa chừng / stopped early: {report.aborted}")
    return lines


def refusal_lines(report: ImportReport, limit: int = 50) -> list[str]:
    """One line per refused row (the first `limit`), for a run without `--report`."""
    lines = []
    for result in report.refused[:limit]:
        assert result.refusal is not None
        r = result.refusal
        lines.append(f"  dòng/row {result.row.number} [{r.step.value}] {r.rule}: {r.message}")
    if len(report.refused) > limit:
        lines.append(f"  … {len(report.refused) - limit} more: use --report FILE.csv")
    return lines
