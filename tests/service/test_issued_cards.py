"""Issued cards are written in the background: known to the process at once, in the SQLite file within the flush
interval (for a second worker), written at shutdown, kept in memory and reported while the file cannot be
written; and evaluations over the time budget answered with a 422 while the next call is answered."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from mgdecision.service import audit
from mgdecision.service.app import create_app
from mgdecision.service.audit import FeedbackStore
from mgdecision.service.hooks import OVERRIDE_SYSTEM

from . import fhir_data as f
from .conftest import Server

PV = "magnesium-patient-view"
_REFUSE = "CREATE TRIGGER refuse BEFORE INSERT ON issued_cards BEGIN SELECT RAISE(ABORT, 'disk full'); END"


def _card(card_uuid: str) -> dict[str, Any]:
    return {"uuid": card_uuid, "topic": "risk", "indicator": "warning", "summary": "Deficiency risk: HIGH",
            "suggestions": [], "override_codes": ["already-treated", "data-incorrect"], "knowledge_version": "k1"}


def _until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_issued_cards_are_known_at_once_and_reach_the_file_for_another_worker(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    worker, other = FeedbackStore(db), FeedbackStore(db)
    try:
        worker.issue(PV, [_card("a"), _card("b")])
        assert worker.issued("a") == {"service_id": PV, "topic": "risk", "indicator": "warning",
                                      "summary": "Deficiency risk: HIGH", "suggestions": [],
                                      "override_codes": ["already-treated", "data-incorrect"],
                                      "knowledge_version": "k1"}
        assert _until(lambda: other.issued("b") is not None)  # written by the background thread
        assert _until(lambda: worker.pending == 0)  # dropped from memory once the commit returns
        assert other.issued("a") == worker.issued("a")
        assert other.issued("c") is None
    finally:
        worker.close()
        other.close()


def test_close_writes_the_cards_still_pending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "FLUSH_SECONDS", 60.0)  # the background writer would wait a minute
    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    ids = [str(uuid.uuid4()) for _ in range(50)]
    store.issue(PV, [_card(i) for i in ids])
    assert store.pending == 50
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM issued_cards").fetchone()[0] == 0
    t0 = time.perf_counter()
    store.close()
    assert time.perf_counter() - t0 < 5  # the writer's wait is ended, not sat out
    with pytest.raises(sqlite3.ProgrammingError):
        store.issue(PV, [_card("late")])
    reopened = FeedbackStore(db)
    try:
        assert all(reopened.issued(i) is not None for i in ids)
    finally:
        reopened.close()


def test_cards_pending_when_a_process_exits_without_closing_the_store_are_written(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    script = ("import json, sys; from mgdecision.service import audit; audit.FLUSH_SECONDS = 60.0; "
              "store = audit.FeedbackStore(sys.argv[1]); store.issue('pv', json.loads(sys.argv[2])); "
              "assert store.pending == 2")
    cards = json.dumps([_card("x"), _card("y")])
    subprocess.run([sys.executable, "-c", script, str(db), cards], check=True, timeout=60)
    reopened = FeedbackStore(db)
    try:
        assert reopened.issued("x") is not None and reopened.issued("y") is not None
    finally:
        reopened.close()


def test_a_failed_write_keeps_the_cards_and_healthz_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "FLUSH_SECONDS", 0.01)
    monkeypatch.setattr(audit, "_RETRY_SECONDS", 0.05)
    db = tmp_path / "feedback.sqlite3"
    app = create_app(db)
    store: FeedbackStore = app.state.store
    with sqlite3.connect(db) as conn:
        conn.execute(_REFUSE)

    async def call(method: str, path: str, body: Any = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, path, json=body)

    try:
        pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")],
                         statements=[f.medication("magnesium oxide 400 MG Oral Tablet")])
        r = asyncio.run(call("POST", f"/cds-services/{PV}", f.request("patient-view", pre)))
        assert r.status_code == 200, r.text
        card = next(c for c in r.json()["cards"] if c["indicator"] == "critical")
        assert _until(lambda: store.write_error is not None)
        assert "disk full" in str(store.write_error) and store.pending == len(r.json()["cards"])
        health = asyncio.run(call("GET", "/healthz"))
        assert health.status_code == 500 and "cannot be written" in health.json()["issue"][0]["diagnostics"]
        reason = {"system": OVERRIDE_SYSTEM, "code": "specialist-supervised"}
        feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                                  "outcomeTimestamp": "2026-11-30T10:00:00Z", "overrideReason": {"reason": reason}}]}
        r = asyncio.run(call("POST", f"/cds-services/{PV}/feedback", feedback))  # the card is known from memory
        assert r.status_code == 200 and r.json() == {"stored": 1}, r.text
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER refuse")
        assert _until(lambda: store.pending == 0 and store.write_error is None)
        assert asyncio.run(call("GET", "/healthz")).status_code == 200
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT topic FROM issued_cards WHERE card_uuid = ?", (card["uuid"],)).fetchone() == (
            "contraindication",)


def _critical_card(client: httpx.Client) -> dict[str, Any]:
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")],
                     statements=[f.medication("magnesium oxide 400 MG Oral Tablet")])
    r = client.post(f"/cds-services/{PV}", json=f.request("patient-view", pre))
    assert r.status_code == 200, r.text
    return next(c for c in r.json()["cards"] if c["indicator"] == "critical")


def _override(card_uuid: str) -> dict[str, Any]:
    reason = {"system": OVERRIDE_SYSTEM, "code": "specialist-supervised"}
    return {"feedback": [{"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": "2026-11-30T10:00:00Z",
                          "overrideReason": {"reason": reason}}]}


def test_feedback_on_a_card_of_another_worker_and_after_a_restart(tmp_path: Path) -> None:
    """Two servers on one database, as ``--workers 2`` runs them: feedback sent to the other at once is accepted;
    a card issued just before its server stops is accepted after the restart."""
    db, log = tmp_path / "feedback.sqlite3", tmp_path / "server.log"
    first, second = Server(db, log), Server(db, log)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as a, httpx.Client(base_url=second.url, timeout=30) as b:
            card = _critical_card(a)
            r = b.post(f"/cds-services/{PV}/feedback", json=_override(card["uuid"]))
            assert r.status_code == 200 and r.json() == {"stored": 1}, r.text
            last = _critical_card(a)
        first.stop()  # at once: its last cards are written as it shuts down
        with httpx.Client(base_url=second.url, timeout=30) as b:
            r = b.post(f"/cds-services/{PV}/feedback", json=_override(last["uuid"]))
            assert r.status_code == 200, r.text
    finally:
        first.stop()
        second.stop()
    restarted = Server(db, log)
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as client:
            assert client.post(f"/cds-services/{PV}/feedback", json=_override(last["uuid"])).status_code == 200
            r = client.post(f"/cds-services/{PV}/feedback", json=_override(str(uuid.uuid4())))
            assert r.status_code == 400 and "was issued" in r.text
    finally:
        restarted.stop()


def test_a_call_over_the_time_budget_is_a_422_and_the_next_is_answered(tmp_path: Path) -> None:
    server = Server(tmp_path / "feedback.sqlite3", tmp_path / "server.log", "--time-budget", "0.3")
    try:
        meds = [f.medication(f"zz{uuid.uuid4().hex[:10]} tablet") for _ in range(1500)]
        heavy = f.request("patient-view", f.prefetch(serum_obs=[f.serum(0.8)], statements=meds))
        with httpx.Client(base_url=server.url, timeout=60) as client:
            t0 = time.perf_counter()
            r = client.post(f"/cds-services/{PV}", json=heavy)
            assert r.status_code == 422 and "time budget of 0.3 s" in r.json()["issue"][0]["diagnostics"], r.text
            assert time.perf_counter() - t0 < 3
            t0 = time.perf_counter()  # the heavy evaluation goes on in its thread; this one is answered
            light = client.post(f"/cds-services/{PV}", json=f.request("patient-view", f.prefetch(
                serum_obs=[f.serum(0.8)])))
            assert light.status_code == 200 and time.perf_counter() - t0 < 2
    finally:
        server.stop()
