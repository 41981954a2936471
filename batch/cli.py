"""``mgdecision`` command line: ``assess`` flags a patient workbook; ``app`` starts the clinician app; ``rules``
prints the rulebook.

    mgdecision assess INPUT [-o OUTPUT] [--sheet NAME] [--header-row N] [--map "Serum Mg=serum_mg" ...]
                      [--streaming | --annotate] [--workers N] [--force]

Exit codes:
  0  success (problems on rows are data, listed in the output, not a failure)
  2  usage error (bad option, --map to a missing header or field, no column could be mapped, no header row,
     output exists or equals the input, input is a folder, the command's extra not installed: the pip line)
  3  input unreadable or refused (missing, damaged, encrypted, zip bomb, XML protection unavailable, too wide)
  4  output could not be written, e.g. disk full (one line; nothing is left behind)
  130 interrupted (nothing is left behind)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

import mgdecision as mg
from mgdecision import MissingExtra
from mgdecision import requires_extra as needed

from .interrupts import stopping_on_ctrl_c
from .io_safety import OutputNotWritten, RefusedInput, atomic_output, resolve_output
from .run import STREAMING_THRESHOLD_BYTES, RunOptions, RunResult, assess_file, report

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "EXIT_WRITE", "main"]

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_WRITE, EXIT_INTERRUPTED = 0, 2, 3, 4, 130

EXAMPLES = """examples:
  mgdecision assess clinic.xlsx                           # writes clinic.flagged.xlsx beside it
  mgdecision assess clinic.xlsx -o reviewed.xlsx --force  # another name; replace it if it exists
  mgdecision assess export.csv --map "Lab Mg=serum_mg" --map "Rx=medications"
  mgdecision assess list.xlsx --sheet Patients --header-row 3
  mgdecision assess big.csv -o big.flagged.parquet        # CSV or Parquet out: machine column names
  mgdecision app --help                                   # the clinician app's own options

"""

RULES_EXAMPLES = """examples:
  mgdecision rules                                        # Markdown on the screen
  mgdecision rules --format html -o rulebook.html         # a page to open in a browser and print
"""

EPILOG = EXAMPLES + """exit codes:
  0    success (problems on rows are data, listed in the output, not a failure)
  2    usage error (bad option, --map to a missing header or field, no column mapped, no header row,
       output exists or equals the input, input is a folder, the command's extra not installed: the pip line)
  3    input unreadable or refused (missing, damaged, encrypted, zip bomb, XML protection unavailable, too wide)
  4    output could not be written, e.g. disk full (one line; nothing is left behind)
  130  interrupted (nothing is left behind)

The flags support and do not replace clinical judgement."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2 with the usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _mapping(items: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        header, sep, name = item.rpartition("=")
        if not sep or not header.strip() or not name.strip():
            raise mg.UsageError(f'--map expects "Header as written=field", got {item!r}')
        mapping[header.strip()] = name.strip()
    return mapping


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mgdecision", description="Magnesium decision support for patient workbooks.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"mgdecision {mg.__version__} (knowledge {mg.KNOWLEDGE_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = sub.add_parser("assess", help="flag every patient row of a workbook (or CSV/Parquet)", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Write NAME.flagged.xlsx beside the input: the patient sheet with the output "
                                   "columns appended (plain headers), plus Input problems, Reasons, Summary and "
                                   "Sources sheets; every sheet prints on A4 or Letter.")
    a.add_argument("input", type=Path,
                   help="the patient list: .xlsx, .xlsm (annotate or streaming); .xls, .ods, .csv, .parquet; "
                        "e.g. clinic.xlsx")
    a.add_argument("-o", "--output", type=Path,
                   help="output path (.xlsx, .csv or .parquet); default NAME.flagged.xlsx beside the input; "
                        "e.g. -o reviewed.xlsx")
    a.add_argument("--sheet", help="patient sheet name (default: the first sheet); e.g. --sheet Patients")
    a.add_argument("--header-row", type=int, metavar="N",
                   help="the sheet row (from 1) holding the column headers (default: found automatically); "
                        "e.g. --header-row 3")
    a.add_argument("--map", action="append", default=[], metavar='"HEADER=field"',
                   help='map a column header (as written) to a field; repeatable; e.g. --map "Lab Mg=serum_mg" '
                        "(fields: " + ", ".join(f.name for f in mg.knowledge().fields) + ")")
    mode = a.add_mutually_exclusive_group()
    mode.add_argument("--streaming", action="store_true", default=None,
                      help="write a new workbook in bounded memory (automatic above "
                           f"{STREAMING_THRESHOLD_BYTES // 1_000_000} MB of input)")
    mode.add_argument("--annotate", dest="streaming", action="store_false",
                      help="keep the user's workbook and append the columns (default for ordinary sizes)")
    a.add_argument("--force", action="store_true", help="replace an existing output file (never the input)")
    a.add_argument("--workers", type=int, metavar="N",
                   help="processes assessing rows while this one reads and writes (default: none under 1 MB of "
                        "input, else all cores but one); --engine dask: local cluster workers (default 2); "
                        "e.g. --workers 3")
    a.add_argument("-q", "--quiet", action="store_true", help="no progress bar or mapping printout")
    a.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="dask: CSV/Parquet in and out on a Dask cluster (local by default); e.g. --engine dask "
                        "--workers 4")
    a.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: an existing scheduler address, e.g. --scheduler tcp://10.0.0.5:8786")
    r = sub.add_parser("rules", help="print the rulebook: every rule, threshold, interaction and text with its "
                                     "sources (no extra needed)", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="The rulebook of the installed knowledge, for a clinical governance committee: "
                                   "every rule, threshold, interaction, dose status and text, each with its sources, "
                                   "and the knowledge version.", epilog=RULES_EXAMPLES)
    r.add_argument("--format", choices=("md", "html"), default="md",
                   help="md: Markdown (default); html: one standalone page that prints well; e.g. --format html")
    r.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write to FILE instead of printing; e.g. -o rulebook.html")
    r.add_argument("--force", action="store_true", help="replace FILE if it exists")
    sub.add_parser("app", help="start the clinician app (widgets); its options follow 'app'", add_help=False)
    sub.add_parser("serve", help="start the CDS Hooks service (mgdecision[service]); its options follow 'serve'",
                   add_help=False)
    sub.add_parser("audit", help="export the CDS service's feedback audit: audit export [--db PATH] [-o FILE]",
                   add_help=False)
    return parser


def _run_dask(args: argparse.Namespace, columns: dict[str, str]) -> RunResult:
    from .distributed import run_dask

    if not args.input.exists():
        raise RefusedInput(f"input not found: {args.input}")
    if args.workers is not None and args.workers < 1:
        raise mg.UsageError("--workers needs at least 1 with --engine dask")
    target = resolve_output(args.input, args.output or args.input.with_name(f"{args.input.stem}.flagged.csv"),
                            force=args.force, folder_ok=True)
    tally = run_dask(args.input, target, columns, scheduler=args.scheduler, n_workers=args.workers or 2,
                     force=args.force)
    return RunResult(target, "dask", tally, None)


def _app(rest: list[str]) -> int:
    try:
        with needed("app", "mgdecision app"):
            from mgdecision.widgets.app import main as app_main

            return int(app_main(rest) or 0)
    except MissingExtra as exc:
        print(f"mgdecision: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _quiet_write_errors() -> None:
    """After a failed write, writers' half-closed files may fail again when freed: already reported once."""
    previous = sys.unraisablehook

    def hook(unraisable: object) -> None:
        if not isinstance(getattr(unraisable, "exc_value", None), OSError):
            previous(unraisable)  # type: ignore[arg-type]

    sys.unraisablehook = hook


def _rules(args: argparse.Namespace, err: TextIO) -> int:
    """``mgdecision rules``: the rulebook of the installed knowledge (the core alone, no extra)."""
    book = mg.rulebook()
    text = book.html() if args.format == "html" else book.markdown()
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    out: Path = args.output
    try:
        if out.is_dir():
            raise mg.UsageError(f"{out} is a folder; give a file name for the output")
        if out.exists() and not args.force:
            raise mg.UsageError(f"{out} already exists; use --force to replace it")
        if not out.parent.is_dir():
            raise mg.UsageError(f"output folder {out.parent} does not exist")
        with atomic_output(out, force=args.force) as part:
            part.write_text(text, encoding="utf-8", newline="")
    except mg.UsageError as exc:
        print(f"mgdecision: error: {exc}", file=err)
        return EXIT_USAGE
    except OutputNotWritten as exc:
        print(f"mgdecision: could not write the output: {exc}; nothing was left behind", file=err)
        return EXIT_WRITE
    print(f"rulebook of knowledge {mg.KNOWLEDGE_VERSION} written to {out}", file=err)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    program = argv is None  # this process is the command: once it has run, a Ctrl-C has nothing left to stop
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"]:  # everything after "app" belongs to the app's own parser
        return _app(argv[1:])
    if argv[:1] in (["serve"], ["audit"]):  # the CDS Hooks service and its feedback audit (mgdecision.service)
        from mgdecision.service import cli as service_cli

        return (service_cli.serve_main if argv[0] == "serve" else service_cli.audit_main)(argv[1:])
    err = sys.stderr
    try:
        with stopping_on_ctrl_c(restore=not program):
            args = build_parser().parse_args(argv)
            if args.command == "rules":
                return _rules(args, err)
            return _assess(args, err)
    except KeyboardInterrupt:  # before the run began
        print("mgdecision: interrupted; no output written", file=err)
        return EXIT_INTERRUPTED


def _assess(args: argparse.Namespace, err: TextIO) -> int:
    extra = "dask" if args.engine == "dask" else "batch"
    command = "mgdecision assess --engine dask" if extra == "dask" else "mgdecision assess"
    try:
        with needed(extra, command):
            columns = _mapping(args.map)
            if args.engine == "dask":
                result = _run_dask(args, columns)
            else:
                if args.scheduler:
                    raise mg.UsageError("--scheduler needs --engine dask")
                opts = RunOptions(args.input, args.output, args.sheet, columns, args.streaming, args.force,
                                  args.quiet, workers=args.workers, header_row=args.header_row)
                result = assess_file(opts, err=err)
    except mg.UsageError as exc:  # a missing extra too
        print(f"mgdecision: error: {exc}", file=err)
        return EXIT_USAGE
    except RefusedInput as exc:
        print(f"mgdecision: refused: {exc}", file=err)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("mgdecision: interrupted; no output written", file=err)
        return EXIT_INTERRUPTED
    except OutputNotWritten as exc:
        print(f"mgdecision: could not write the output: {exc}; nothing was left behind", file=err)
        _quiet_write_errors()
        return EXIT_WRITE
    except OSError as exc:
        print(f"mgdecision: could not write the output: {exc.strerror or exc}", file=err)
        return EXIT_WRITE
    report(result, sys.stdout)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
