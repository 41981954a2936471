"""``mgdecision serve`` and ``mgdecision audit export`` (called from the ``mgdecision`` command).

    mgdecision serve [--host 127.0.0.1] [--port 8080] [--db PATH] [--workers N] [--auth off|verify|require ...]
                     (every option: mgdecision serve --help)
    mgdecision audit export [--db PATH] [-o FILE] [--format csv|jsonl]

Exit codes: 0 success, 2 usage error (or the service extra is not installed: the pip line), 3 the database
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mgdecision import MissingExtra
from mgdecision import requires_extra as needed

__all__ = ["audit_main", "serve_main"]

EXIT_OK, EXIT_USAGE, EXIT_UNREADABLE = 0, 2, 3


def _db_help() -> str:
    return "feedback database (SQLite); default $MGDECISION_FEEDBACK_DB or ~/.local/share/mgdecision/feedback.sqlite3"


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Run the CDS Hooks service until interrupted."""
    from .audit import default_db_path

    parser = argparse.ArgumentParser(
        prog="mgdecision serve", description="Run the CDS Hooks 2.0 service.",
        epilog="Environment: MGDECISION_FEEDBACK_DB is the default --db. Logs are JSON lines on standard error "
        "(hookInstance as correlation id, no patient data).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db", type=Path, default=None, help=_db_help() + "; issued cards are kept there too")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes sharing the port and the database (default 1)")
    parser.add_argument("--threads", type=int, default=4, help="evaluations at once per process (default 4)")
    parser.add_argument("--max-body", type=int, default=None, metavar="BYTES",
                        help="largest request body accepted (default 16 MiB; larger: 413)")
    parser.add_argument("--max-items", type=int, default=2000, metavar="N",
                        help="most conditions and medication resources in one request (default 2000; more: 413)")
    parser.add_argument("--kept-answers", type=int, default=2048, metavar="N",
                        help="answers kept for the request content that determines them, so a chart opened again "
                        "is answered at once (fresh card uuids; emptied each day; default 2048; 0: assess every call)")
    parser.add_argument("--time-budget", type=float, default=10.0, metavar="SECONDS",
                        help="longest evaluation of one request (default 10; longer: 422)")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="a browser origin allowed to call the service (repeat; default none)")
    parser.add_argument("--auth", choices=("off", "verify", "require"), default="off",
                        help="bearer JWTs of the EHR: off (default), verify when sent, or require on every call")
    parser.add_argument("--issuer", action="append", default=[], metavar="ISS[=JKU,...]",
                        help="an allowed token issuer, with the jku URLs allowed for its keys (repeat)")
    parser.add_argument("--audience", default=None, help="this service's URL, as the token's aud must name it")
    parser.add_argument("--jwks", default=None, metavar="FILE_OR_URL", help="the issuers' public keys (JWKS)")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        with needed("service", "mgdecision serve"):
            import uvicorn

            from .app import MAX_BODY_BYTES, ServiceConfig, create_app, json_logging, settle
            from .security import AuthConfig
    except MissingExtra as exc:
        print(f"mgdecision: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    json_logging(args.log_level)
    db = args.db or default_db_path()
    issuers = {i.split("=", 1)[0]: tuple(filter(None, i.partition("=")[2].split(","))) for i in args.issuer}
    try:
        auth = AuthConfig(args.auth, issuers, args.audience, args.jwks)
    except ValueError as exc:
        print(f"mgdecision serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    config = ServiceConfig(db, max_body=args.max_body or MAX_BODY_BYTES, max_items=args.max_items,
                           time_budget=args.time_budget, workers=args.threads, cors_origins=tuple(args.cors_origin),
                           auth=auth, kept_answers=args.kept_answers)
    try:
        app = create_app(config)
    except (OSError, sqlite3.Error) as exc:
        print(f"mgdecision serve: cannot open the feedback database {db}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"mgdecision CDS Hooks service on http://{args.host}:{args.port}/cds-services (feedback: {db})",
          file=sys.stderr, flush=True)
    # access_log off: the service logs its own line per request, without patient data
    if args.workers > 1:  # each process builds its own app from the same configuration
        import os

        os.environ["MGDECISION_SERVE_CONFIG"] = json.dumps(
            {"db": str(db), "max_body": config.max_body, "max_items": config.max_items,
             "time_budget": config.time_budget, "threads": config.workers, "cors": list(config.cors_origins),
             "kept_answers": config.kept_answers,
             "auth": [args.auth, {k: list(v) for k, v in issuers.items()}, args.audience, args.jwks],
             "log_level": args.log_level})
        uvicorn.run("mgdecision.service.cli:_worker_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level=args.log_level, access_log=False)
    else:
        settle()
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return EXIT_OK


def _worker_app() -> Any:
    """The app of one worker process (``--workers N``), from the configuration its parent wrote."""
    import os

    from .app import ServiceConfig, create_app, json_logging, settle
    from .security import AuthConfig

    c = json.loads(os.environ["MGDECISION_SERVE_CONFIG"])
    json_logging(c.get("log_level", "info"))
    mode, issuers, audience, jwks = c["auth"]
    app = create_app(ServiceConfig(c["db"], max_body=c["max_body"], max_items=c["max_items"],
                                   time_budget=c["time_budget"], workers=c["threads"], cors_origins=tuple(c["cors"]),
                                   auth=AuthConfig(mode, issuers, audience, jwks),
                                   kept_answers=c.get("kept_answers", 2048)))
    settle()
    return app


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
