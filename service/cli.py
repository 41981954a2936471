"""``mgdecision serve`` and ``mgdecision audit export`` (called from the ``mgdecision`` command).

    mgdecision serve [--host 127.0.0.1] [--port 8080] [--db PATH] [--max-body BYTES] [--log-level info]
    mgdecision audit export [--db PATH] [-o FILE] [--format csv|jsonl]

Exit codes: 0 success, 2 usage error (or the service extra is not installed: the pip line), 3 the database
cannot be read.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from mgdecision.extras import MissingExtra, needed

__all__ = ["audit_main", "serve_main"]

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 2, 3


def _db_help() -> str:
    return "feedback database (SQLite); default $MGDECISION_FEEDBACK_DB or ~/.local/share/mgdecision/feedback.sqlite3"


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Run the CDS Hooks service until interrupted."""
    from .audit import default_db_path

    parser = argparse.ArgumentParser(prog="mgdecision serve", description="Run the CDS Hooks 2.0 service.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db", type=Path, default=None, help=_db_help())
    parser.add_argument("--max-body", type=int, default=None, metavar="BYTES",
                        help="largest request body accepted (default 16 MiB)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        with needed("service", "mgdecision serve"):
            import uvicorn

            from .app import MAX_BODY_BYTES, create_app
    except MissingExtra as exc:
        print(f"mgdecision: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    db = args.db or default_db_path()
    try:
        app = create_app(db, max_body=args.max_body or MAX_BODY_BYTES)
    except (OSError, sqlite3.Error) as exc:
        print(f"mgdecision serve: cannot open the feedback database {db}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"mgdecision CDS Hooks service on http://{args.host}:{args.port}/cds-services (feedback: {db})",
          file=sys.stderr, flush=True)
    # access_log off: the service logs its own line per request, without patient data
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return EXIT_OK


def audit_main(argv: Sequence[str] | None = None) -> int:
    """``audit export``: write the feedback audit as CSV (default) or JSON lines."""
    from .audit import FeedbackStore, default_db_path, export

    parser = argparse.ArgumentParser(prog="mgdecision audit", description="The feedback audit of the CDS service.")
    sub = parser.add_subparsers(dest="action", required=True)
    e = sub.add_parser("export", help="write every feedback record (CSV or JSON lines)")
    e.add_argument("--db", type=Path, default=None, help=_db_help())
    e.add_argument("-o", "--output", type=Path, help="output file (.csv or .jsonl); default: standard output")
    e.add_argument("--format", choices=("csv", "jsonl"), help="default: from the output's extension, else csv")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    db = args.db or default_db_path()
    if not db.exists():
        print(f"mgdecision audit: no feedback database at {db}", file=sys.stderr)
        return EXIT_UNREADABLE
    fmt = args.format or ("jsonl" if args.output and args.output.suffix in (".jsonl", ".json") else "csv")
    try:
        store = FeedbackStore(db)
    except sqlite3.Error as exc:
        print(f"mgdecision audit: cannot read {db}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        if args.output:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                count = export(store, out, fmt)
            print(f"{count} feedback record(s) written to {args.output}", file=sys.stderr)
        else:
            export(store, sys.stdout, fmt)
    finally:
        store.close()
    return EXIT_OK
