"""The feedback audit: an append-only SQLite table of what clinicians did with the cards (the service's only I/O).

Every ``POST /cds-services/{id}/feedback`` item becomes one row, with the time it was received, the service, the
card (its topic, indicator and summary when this server issued it since it started), the outcome and override
reason, and the knowledge version. Rows are never changed or deleted: triggers refuse UPDATE and DELETE.
The default database is ``$MGDECISION_FEEDBACK_DB``, else ``$XDG_DATA_HOME/mgdecision/feedback.sqlite3``
(``~/.local/share/...``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

__all__ = ["COLUMNS", "FeedbackStore", "IssuedCards", "default_db_path", "export"]

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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
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
);
CREATE TRIGGER IF NOT EXISTS feedback_no_update BEFORE UPDATE ON feedback
BEGIN SELECT RAISE(ABORT, 'feedback is append-only'); END;
CREATE TRIGGER IF NOT EXISTS feedback_no_delete BEFORE DELETE ON feedback
BEGIN SELECT RAISE(ABORT, 'feedback is append-only'); END;
"""


def default_db_path() -> Path:
    """``$MGDECISION_FEEDBACK_DB``, else ``$XDG_DATA_HOME/mgdecision/feedback.sqlite3``."""
    explicit = os.environ.get("MGDECISION_FEEDBACK_DB")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mgdecision" / "feedback.sqlite3"


class IssuedCards:
    """The cards this server issued (uuid -> topic, indicator, summary, version), the newest ``limit`` kept."""

    def __init__(self, limit: int = 100_000) -> None:
        self._cards: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, cards: list[dict[str, Any]]) -> None:
        with self._lock:
            for card in cards:
                self._cards[card["uuid"]] = card
            while len(self._cards) > self._limit:
                self._cards.popitem(last=False)

    def get(self, card_uuid: str) -> dict[str, Any] | None:
        with self._lock:
            return self._cards.get(card_uuid)


class FeedbackStore:
    """Append-only feedback in one SQLite file (created with its folder on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def append(self, service_id: str, items: Sequence[Mapping[str, Any]], knowledge_version: str,
               issued: IssuedCards | None = None) -> int:
        """Store the feedback items (one transaction); returns how many were stored."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        rows = []
        for item in items:
            card = (issued.get(item["card_uuid"]) if issued else None) or {}
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
        with self._lock:
            self._db.close()


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
