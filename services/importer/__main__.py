"""`python -m services.importer FILE [--base-url URL] [--report refused.csv]`.

Exit codes: 0 every row imported or already present; 1 some rows refused; 2 the file (or the
tokens file) cannot be read or lacks required columns; 3 the run stopped early because the API
could not be reached or refused the token (run again once fixed: nothing is done twice).
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.importer.auth import DevTokens, NoTokens, StaticTokens, TokenError, Tokens
from services.importer.importer import DEFAULT_CONCURRENCY, import_rows
from services.importer.outcomes import ImportReport, Outcome, RowResult
from services.importer.readers import ImportFileError, Table, read_table
from services.importer.report import refusal_lines, summary_lines, write_report

EXIT_OK, EXIT_REFUSALS, EXIT_FILE, EXIT_ABORTED = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.importer",
        description="Import historical secondment decisions (CSV or XLSX) through the API. "
        "See docs/import.md for the columns.",
    )
    parser.add_argument("file", type=Path, help="the spreadsheet: .csv (UTF-8) or .xlsx")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the API's address")
    parser.add_argument(
        "--report", type=Path, help="write refused rows and why to this CSV (UTF-8 with BOM)"
    )
    parser.add_argument("--sheet", help="the workbook's sheet (default: the first)")
    parser.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of refusal titles"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="rows in flight at once (rows of one need or one official stay in file order)",
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--token",
        default=os.environ.get("SECONDMENT_TOKEN"),
        help="one bearer token for every request (default: $SECONDMENT_TOKEN)",
    )
    auth.add_argument(
        "--tokens",
        type=Path,
        help='JSON file of tokens by unit code: {"SO_Y_TE": "…", "NAM_GIANG": "…", "*": "…"}',
    )
    auth.add_argument(
        "--dev-keys",
        type=Path,
        help="development only: mint each agency's token with this issuer key folder "
        "(the embedded default's var-keys)",
    )
    return parser


def _tokens(args: argparse.Namespace) -> Tokens:
    if args.tokens is not None:
        return StaticTokens.from_file(args.tokens)
    if args.dev_keys is not None:
        return DevTokens(args.dev_keys)
    if args.token:
        return StaticTokens.single(args.token)
    return NoTokens()


async def run(
    table: Table,
    base_url: str,
    tokens: Tokens,
    *,
    lang: str,
    request_timeout: float,
    concurrency: int,
    console: Console,
) -> ImportReport:
    """Import with a progress bar on `console` (stderr)."""
    counts = {outcome: 0 for outcome in Outcome}
    with Progress(
        TextColumn("[bold]Nhập / importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("import", total=len(table), counts="")

        def on_row(result: RowResult) -> None:
            counts[result.outcome] += 1
            progress.update(
                task,
                advance=1,
                counts=f"✓ {counts[Outcome.IMPORTED]}  = {counts[Outcome.PRESENT]}"
                f"  ✗ {counts[Outcome.REFUSED]}",
            )

        async with httpx.AsyncClient(
            base_url=base_url, timeout=request_timeout, headers={"Accept-Language": lang}
        ) as client:
            return await import_rows(
                table.rows, client, tokens=tokens, on_row=on_row, concurrency=concurrency
            )


def main(argv: Sequence[str] | None = None) -> int:
    """The command; returns the exit code."""
    args = _parser().parse_args(argv)
    err = Console(stderr=True)
    try:
        if args.report is not None and not args.report.parent.is_dir():
            raise ImportFileError(f"{args.report}: its folder does not exist")
        table = read_table(args.file, args.sheet)
        tokens = _tokens(args)
    except (ImportFileError, TokenError) as exc:
        err.print(f"[red]Không nhập được / cannot import:[/red] {escape(str(exc))}", soft_wrap=True)
        return EXIT_FILE
    report = asyncio.run(
        run(
            table,
            args.base_url,
            tokens,
            lang=args.lang,
            request_timeout=args.timeout,
            concurrency=args.concurrency,
            console=err,
        )
    )
    if args.report is not None:
        write_report(report, table.headers, args.report)
    elif report.refused:
        print("\n".join(refusal_lines(report)))
    print("\n".join(summary_lines(report, args.report, len(table))))
    if report.aborted:
        return EXIT_ABORTED
    return EXIT_REFUSALS if report.refused else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
