"""The feedback audit and the cards issued, in one SQLite file (the service's only I/O).

Every card a hook call returns is recorded in ``issued_cards`` (its uuid, service, topic, indicator, summary,
suggestion uuids and override reason codes, knowledge version; no patient data), so feedback is checked against
what was issued across restarts and several worker processes. A hook call does not wait for the file: its cards
are known to this process at once and written by a background thread, the cards of all calls within
``FLUSH_SECONDS`` in one transaction (what is left when the store is closed, as at a server's shutdown). Every
``POST /cds-services/{id}/feedback`` item becomes one ``feedback`` row, written before the call is answered, with
the time it was received, the card, the outcome and override reason, and the knowledge version. Feedback rows
are never changed or deleted: triggers refuse UPDATE and DELETE. Issued cards older than ``ISSUED_DAYS`` are
pruned. Tables are STRICT; ``PRAGMA user_version`` holds the schema version and
:data:`MIGRATIONS` bring an older file up to date when it is opened. The default database is
``$MGDECISION_FEEDBACK_DB``, else ``$XDG_DATA_HOME/mgdecision/feedback.sqlite3`` (``~/.local/share/...``).
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

__all__ = ["COLUMNS", "FLUSH_SECONDS", "ISSUED_DAYS", "MIGRATIONS", "SCHEMA_VERSION", "FeedbackStore",
           "default_db_path", "export"]

COLUMNS = (
    "id",
    "received_at",
    "service_id",
    "card_uuid",
    "card_topic",
    "card_indicator",
    "card_summary",
    "outcome",
    "override_system",
    "override_code",
    "override_display",
    "user_comment",
    "accepted_suggestions",
    "outcome_timestamp",
    "knowledge_version",
    "card_knowledge_version",
)

_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS feedback_no_update BEFORE UPDATE ON feedback
BEGIN SELECT RAISE(ABORT, 'feedback is append-only'); END;
CREATE TRIGGER IF NOT EXISTS feedback_no_delete BEFORE DELETE ON feedback
BEGIN SELECT RAISE(ABORT, 'feedback is append-only'); END;
"""
_FEEDBACK = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    service_id TEXT NOT NULL,
    card_uuid TEXT NOT NULL,
    card_topic TEXT,
    card_indicator TEXT,
    card_summary TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    override_system TEXT NOT NULL DEFAULT '',
    override_code TEXT NOT NULL DEFAULT '',
    override_display TEXT NOT NULL DEFAULT '',
    user_comment TEXT NOT NULL DEFAULT '',
    accepted_suggestions TEXT NOT NULL DEFAULT '[]',
    outcome_timestamp TEXT NOT NULL,
    knowledge_version TEXT NOT NULL,
    card_knowledge_version TEXT
){strict};
"""
# Each step brings the file from version k to k + 1 (k = its index); a new file runs them all.
MIGRATIONS: tuple[str, ...] = (
    # 1: the feedback table (as the first releases created it, without a version)
    "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, "
    "service_id TEXT NOT NULL, card_uuid TEXT NOT NULL, card_topic TEXT, card_indicator TEXT, card_summary TEXT, "
    "outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')), override_system TEXT NOT NULL DEFAULT '', "
    "override_code TEXT NOT NULL DEFAULT '', override_display TEXT NOT NULL DEFAULT '', user_comment TEXT NOT NULL "
    "DEFAULT '', accepted_suggestions TEXT NOT NULL DEFAULT '[]', outcome_timestamp TEXT NOT NULL, knowledge_version "
    "TEXT NOT NULL, card_knowledge_version TEXT);" + _APPEND_ONLY,
    # 2: feedback as a STRICT table (rows copied; DROP TABLE fires no trigger), and the cards issued
    _FEEDBACK.format(name="feedback_strict", strict=" STRICT")
    + "INSERT INTO feedback_strict SELECT * FROM feedback; DROP TABLE feedback; "
    "ALTER TABLE feedback_strict RENAME TO feedback;" + _APPEND_ONLY
    + """
CREATE TABLE issued_cards (
    card_uuid TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    service_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    indicator TEXT NOT NULL,
    summary TEXT NOT NULL,
    suggestions TEXT NOT NULL,
    override_codes TEXT NOT NULL,
    knowledge_version TEXT NOT NULL
) STRICT;
CREATE INDEX issued_cards_at ON issued_cards (issued_at);
""",
)
SCHEMA_VERSION = len(MIGRATIONS)
ISSUED_DAYS = 30  # feedback on a card older than this is refused (its card is no longer known)
FLUSH_SECONDS = 0.05  # issued cards reach the file within about this time of the hook call
_PRUNE_EVERY = 1000  # issued cards written between two prunings
_RETRY_SECONDS = 1.0  # after a failed write
_MAX_PENDING = 100_000  # issued cards held while the file cannot be written; beyond that a hook call fails
log = logging.getLogger("mgdecision.service")


def default_db_path() -> Path:
    """``$MGDECISION_FEEDBACK_DB``, else ``$XDG_DATA_HOME/mgdecision/feedback.sqlite3``."""
    explicit = os.environ.get("MGDECISION_FEEDBACK_DB")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mgdecision" / "feedback.sqlite3"


class FeedbackStore:
    """Feedback (append-only) and the cards issued, in one SQLite file (created with its folder on first use).

    Safe to share between threads and between worker processes (WAL journal, a busy timeout, migrations
    in an immediate transaction). Issued cards are written in the background (see the module's text);
    :meth:`flush` writes them now and :meth:`close` writes them before closing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # the connection
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()
        self._pending: dict[str, tuple[Any, ...]] = {}  # issued cards not yet in the file, by uuid
        self._due = threading.Condition()  # guards _pending and _writer; notified when cards wait to be written
        self._closed = threading.Event()
        self._flushing = threading.Lock()  # one flush at a time
        self._writer: threading.Thread | None = None
        self._written = 0
        self.write_error: str | None = None  # why the last write of issued cards failed (None: it did not)

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise sqlite3.DatabaseError(f"{self.path} has schema version {version}; this release knows "
                                                f"up to {SCHEMA_VERSION}")
                for step in range(version, SCHEMA_VERSION):
                    for statement in _statements(MIGRATIONS[step]):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {step + 1}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def issue(self, service_id: str, cards: Sequence[Mapping[str, Any]]) -> None:
        """Record the cards a hook call returned (no patient data: uuids, topic, indicator, summary, codes).

        They are known to :meth:`issued` at once and written to the file by the background writer."""
        self.issue_rows(service_id, [(c["uuid"], c["topic"], c["indicator"], c["summary"],
                                      json.dumps(c["suggestions"]), json.dumps(c["override_codes"]),
                                      c["knowledge_version"]) for c in cards])

    def issue_rows(self, service_id: str, cards: Sequence[tuple[str, str, str, str, str, str, str]]) -> None:
        """:meth:`issue` for cards given as (uuid, topic, indicator, summary, suggestion uuids as JSON, override
        reason codes as JSON, knowledge version)."""
        if not cards:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        rows = [(c[0], now, service_id, *c[1:]) for c in cards]
        with self._due:
            if self._closed.is_set():
                raise sqlite3.ProgrammingError("the feedback store is closed")
            if self.write_error and len(self._pending) > _MAX_PENDING:
                raise sqlite3.OperationalError(f"issued cards cannot be written: {self.write_error}")
            self._pending.update((row[0], row) for row in rows)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="mgdecision-issued-cards", daemon=True)
                self._writer.start()
                atexit.register(_flush_at_exit, weakref.ref(self))  # a server that never closes the store
            self._due.notify()

    def _write_loop(self) -> None:
        """The background writer: waits for issued cards, lets the calls of ``FLUSH_SECONDS`` gather, writes."""
        while True:
            with self._due:
                self._due.wait_for(lambda: self._pending or self._closed.is_set())
            if self._closed.wait(FLUSH_SECONDS):
                return  # close() writes what is left
            try:
                self.flush()
            except (sqlite3.Error, OSError) as exc:
                if self.write_error is None:
                    log.error("issued cards not written; kept in memory and retried",
                              extra={"exception": type(exc).__name__})
                self.write_error = f"{type(exc).__name__}: {exc}"
                if self._closed.wait(_RETRY_SECONDS):
                    return

    def flush(self) -> None:
        """Write the issued cards not yet in the file, in one transaction (pruning old ones now and then)."""
        with self._flushing:
            with self._due:
                rows = list(self._pending.values())
            if not rows:
                return
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO issued_cards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                    self._written += len(rows)
                    if self._written >= _PRUNE_EVERY:
                        self._written = 0
                        cutoff = (datetime.now(UTC) - timedelta(days=ISSUED_DAYS)).isoformat(timespec="milliseconds")
                        self._db.execute("DELETE FROM issued_cards WHERE issued_at < ?", (cutoff,))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            self.write_error = None
            with self._due:
                for row in rows:
                    if self._pending.get(row[0]) is row:
                        del self._pending[row[0]]

    @property
    def pending(self) -> int:
        """How many issued cards are not yet in the file."""
        with self._due:
            return len(self._pending)

    def issued(self, card_uuid: str) -> dict[str, Any] | None:
        """The card issued with this uuid (topic, indicator, summary, suggestions, override codes), or None."""
        with self._due:
            row = self._pending.get(card_uuid)
        if row is not None:
            found: tuple[Any, ...] | None = (row[2], *row[3:])
        else:
            with self._lock:
                found = self._db.execute(
                    "SELECT service_id, topic, indicator, summary, suggestions, override_codes, knowledge_version "
                    "FROM issued_cards WHERE card_uuid = ?", (card_uuid,)).fetchone()
        if found is None:
            return None
        service, topic, indicator, summary, suggestions, codes, version = found
        return {"service_id": service, "topic": topic, "indicator": indicator, "summary": summary,
                "suggestions": json.loads(suggestions), "override_codes": json.loads(codes),
                "knowledge_version": version}

    def append(self, service_id: str, items: Sequence[Mapping[str, Any]], knowledge_version: str) -> int:
        """Store the feedback items (one transaction); returns how many were stored."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        rows = []
        for item in items:
            card = self.issued(item["card_uuid"]) or {}
            rows.append((now, service_id, item["card_uuid"], card.get("topic"), card.get("indicator"),
                         card.get("summary"), item["outcome"], item["override_system"], item["override_code"],
                         item["override_display"], item["user_comment"], json.dumps(item["accepted_suggestions"]),
                         item["outcome_timestamp"], knowledge_version, card.get("knowledge_version")))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    f"INSERT INTO feedback ({', '.join(COLUMNS[1:])}) VALUES ({', '.join('?' * (len(COLUMNS) - 1))})",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return len(rows)

    def rows(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            fetched = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id").fetchall()
        for values in fetched:
            yield dict(zip(COLUMNS, values, strict=True))

    def close(self) -> None:
        """Write the issued cards still pending, then close the file."""
        with self._due:
            self._closed.set()
            self._due.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join(timeout=30)
        try:
            self.flush()
        finally:
            with self._lock:
                self._db.close()


def _flush_at_exit(ref: weakref.ref[FeedbackStore]) -> None:
    store = ref()
    if store is not None and not store._closed.is_set():
        try:
            store.flush()
        except (sqlite3.Error, OSError) as exc:
            log.error("issued cards not written at exit", extra={"exception": type(exc).__name__})


def _statements(script: str) -> list[str]:
    """The statements of a migration script (a trigger's body keeps its own semicolons)."""
    out, buffer = [], ""
    for line in script.replace(";", ";\n").splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out


def export(store: FeedbackStore, out: TextIO, fmt: str = "csv") -> int:
    """Write every feedback row to ``out`` as CSV (a header line first) or JSON lines; returns the row count."""
    count = 0
    if fmt == "jsonl":
        for row in store.rows():
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in store.rows():
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        count += 1
    out.write(buffer.getvalue())
    return count


def _csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula is written with a leading quote (OWASP CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
