"""Feedback is stored append-only in SQLite with the knowledge version, survives a restart, and exports."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import mgdecision as mg
from mgdecision.service.hooks import OVERRIDE_SYSTEM

from . import fhir_data as f
from .conftest import Server

PV = "magnesium-patient-view"


def _a_card(client: httpx.Client) -> dict:
    """The critical card of a patient with myasthenia gravis on magnesium (magnesium in play)."""
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")],
                     statements=[f.medication("magnesium oxide 400 MG Oral Tablet")])
    r = client.post(f"/cds-services/{PV}", json=f.request("patient-view", pre))
    assert r.status_code == 200, r.text
    return next(c for c in r.json()["cards"] if c["indicator"] == "critical")


def _a_suggestion(client: httpx.Client) -> tuple[dict, str]:
    """A card with a suggestion: a magnesium order for that patient (order-sign), and the suggestion's uuid."""
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")])
    body = f.request("order-sign", pre, drafts=[f.order("magnesium oxide 400 MG Oral Tablet", mid="mg-1")])
    r = client.post("/cds-services/magnesium-order-sign", json=body)
    card = next(c for c in r.json()["cards"] if c.get("suggestions"))
    return card, card["suggestions"][0]["uuid"]


def _feedback(card_uuid: str, outcome: str = "overridden", comment: str = "=1+1 under neurology",
              accepted: str | None = None) -> dict:
    item: dict[str, Any] = {"card": card_uuid, "outcome": outcome, "outcomeTimestamp": "2026-11-30T10:00:00Z"}
    if outcome == "overridden":
        reason = {"system": OVERRIDE_SYSTEM, "code": "specialist-supervised", "display": "Under specialist supervision"}
        item["overrideReason"] = {"reason": reason, "userComment": comment}
    if accepted:
        item["acceptedSuggestions"] = [{"id": accepted}]
    return {"feedback": [item]}


def _export(db: Path, out: Path) -> list[dict[str, str]]:
    result = subprocess.run([sys.executable, "-m", "mgdecision.batch", "audit", "export", "--db", str(db), "-o",
                             str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_feedback_persists_across_a_restart_and_exports(tmp_path: Path) -> None:
    db, log = tmp_path / "audit" / "feedback.sqlite3", tmp_path / "server.log"
    first = Server(db, log)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            card = _a_card(client)
            r = client.post(f"/cds-services/{PV}/feedback", json=_feedback(card["uuid"]))
            assert r.status_code == 200 and r.json() == {"stored": 1}
    finally:
        first.stop()
    second = Server(db, log)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:  # a card issued before the restart
            r = client.post(f"/cds-services/{PV}/feedback", json=_feedback(card["uuid"], comment="again"))
            assert r.status_code == 200, r.text
            rows_after_restart = 2
        with httpx.Client(base_url=second.url, timeout=30) as client:
            other, suggestion = _a_suggestion(client)
            r = client.post("/cds-services/magnesium-order-sign/feedback",
                            json=_feedback(other["uuid"], "accepted", accepted=suggestion))
            assert r.status_code == 200, r.text
    finally:
        second.stop()
    rows = _export(db, tmp_path / "audit.csv")
    assert [r["card_uuid"] for r in rows] == [card["uuid"], card["uuid"], other["uuid"]] and rows_after_restart
    overridden, _again, accepted = rows
    assert overridden["outcome"] == "overridden" and overridden["override_code"] == "specialist-supervised"
    assert overridden["user_comment"] == "'=1+1 under neurology"  # a formula is written as text
    assert overridden["card_topic"] == "contraindication" and overridden["card_summary"] == card["summary"]
    assert overridden["knowledge_version"] == mg.KNOWLEDGE_VERSION == overridden["card_knowledge_version"]
    assert accepted["outcome"] == "accepted" and accepted["override_code"] == ""
    assert json.loads(accepted["accepted_suggestions"]) == [suggestion]
    jsonl = subprocess.run([sys.executable, "-m", "mgdecision.batch", "audit", "export", "--db", str(db),
                            "--format", "jsonl"], capture_output=True, text=True, check=True).stdout
    assert [json.loads(line)["outcome"] for line in jsonl.splitlines()] == ["overridden", "overridden", "accepted"]
    with sqlite3.connect(db) as conn:  # append-only
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE feedback SET outcome = 'accepted'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM feedback")
    assert "under neurology" not in log.read_text()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "feedback is missing"),
        ({"feedback": []}, "empty"),
        ({"feedback": [{"card": "x", "outcome": "ignored", "outcomeTimestamp": "t"}]}, "accepted' or 'overridden"),
        ({"feedback": [{"outcome": "accepted", "outcomeTimestamp": "t"}]}, "card is missing"),
        ({"feedback": [{"card": "x", "outcome": "accepted"}]}, "outcomeTimestamp"),
        ({"feedback": [{"card": "x", "outcome": "accepted", "outcomeTimestamp": "yesterday"}]}, "ISO 8601"),
        ({"feedback": [{"card": "never-issued", "outcome": "overridden",
                        "outcomeTimestamp": "2026-11-30T10:00:00Z"}]}, "was issued"),
    ],
)
def test_bad_feedback_is_a_400(client: httpx.Client, body: dict, words: str) -> None:
    r = client.post(f"/cds-services/{PV}/feedback", json=body)
    assert r.status_code == 400 and words in r.json()["issue"][0]["diagnostics"], r.text


def test_feedback_must_fit_the_card_issued(client: httpx.Client) -> None:
    card = _a_card(client)
    url = f"/cds-services/{PV}/feedback"
    r = client.post(url, json=_feedback(card["uuid"], "accepted"))  # accepted, with no suggestion named
    assert r.status_code == 400 and "suggestions taken" in r.text
    r = client.post(url, json=_feedback(card["uuid"], "accepted", accepted="not-a-suggestion-of-it"))
    assert r.status_code == 400 and "not issued with this card" in r.text
    wrong = _feedback(card["uuid"])
    wrong["feedback"][0]["overrideReason"]["reason"]["code"] = "will-separate"  # a reason of interaction cards
    r = client.post(url, json=wrong)
    assert r.status_code == 400 and "one of the card's overrideReasons" in r.text
    codes = [reason["code"] for reason in card["overrideReasons"]]
    assert "specialist-supervised" in codes and "will-separate" not in codes
    assert client.post(url, json=_feedback(card["uuid"])).status_code == 200


def test_audit_export_without_a_database(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "mgdecision.batch", "audit", "export", "--db",
                             str(tmp_path / "none.sqlite3")], capture_output=True, text=True, check=False)
    assert result.returncode == 3 and "no feedback database" in result.stderr
