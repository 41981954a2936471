"""The real service on 127.0.0.1, called over HTTP: discovery, each hook (prefetch and a posted Bundle), errors,
a 5 MB Bundle, and cards equal to ``mg.assess`` on the equivalent row."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import mgdecision as mg
from mgdecision.service.hooks import _as_written, _short
from mgdecision.terminology import Coding

from . import fhir_data as f
from .conftest import Server

PV, OSEL, OSIGN = "magnesium-patient-view", "magnesium-order-select", "magnesium-order-sign"
HOOKS = {PV: "patient-view", OSEL: "order-select", OSIGN: "order-sign"}


def _assessed(row: dict[str, Any]) -> list[mg.Assessment]:
    """mg.assess of the row on the server's day: today, or the day before or after (a run across midnight)."""
    today = datetime.now(UTC).date()
    return [mg.assess({**row, "assessment_date": (today + timedelta(days=d)).isoformat()}) for d in (0, -1, 1)]


def _expected(row: dict[str, Any]) -> list[list[tuple[str, str]]]:
    """(indicator, summary) of mg.assess's cards for the row, for each day the server may have used, with the
    numbers as the service writes them (age in whole years, eGFR whole); input problems apart."""
    return [[(str(c.indicator), _short(_as_written(c.summary, ()))) for c in a.cards if c.topic != "input"]
            for a in _assessed(row)]


def _core_cards(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["indicator"], c["summary"]) for c in body["cards"]
            if c["source"]["topic"]["code"] not in ("fhir-input", "input", "summary")]


def _diag(r: httpx.Response) -> str:
    """The message of an error answer (a FHIR OperationOutcome)."""
    outcome = r.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["severity"] == "error"
    return str(outcome["issue"][0]["diagnostics"])


def _post(client: httpx.Client, service: str, body: Any, **params: str) -> httpx.Response:
    return client.post(f"/cds-services/{service}", json=body, params=params)


MG_ROW = {"patient_id": f.PATIENT_ID, "date_of_birth": "1970-05-01", "sex": "F", "serum_mg": "0.8 mmol/L",
          "egfr": 85, "diagnoses": [Coding(f.ICD10CM, "G70.00")]}


def _med(display: str, code: str = "0") -> list[Coding]:
    return [Coding(f.RXNORM, code, display)]


def _mg_prefetch(*statements: dict[str, Any]) -> dict[str, Any]:
    return f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")],
                      statements=statements)


def test_discovery_lists_the_three_hooks_with_prefetch(client: httpx.Client) -> None:
    r = client.get("/cds-services")
    assert r.status_code == 200
    services = {s["id"]: s for s in r.json()["services"]}
    assert {sid: s["hook"] for sid, s in services.items()} == HOOKS
    for s in services.values():
        assert s["description"] and s["title"]
        assert "{{context.patientId}}" in s["prefetch"]["patient"]
        assert "2601-3" in s["prefetch"]["serumMagnesium"] and "19123-9" in s["prefetch"]["serumMagnesium"]


def test_patient_view_myasthenia_gives_the_critical_card_mg_assess_gives(client: httpx.Client) -> None:
    """Magnesium in play (a current magnesium product): the core's critical card, as mg.assess gives it."""
    r = _post(client, PV, f.request("patient-view", _mg_prefetch(f.medication("Magnesium Oxide 400 MG Oral Tablet"))))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    critical = [c for c in cards if c["indicator"] == "critical" and c["source"]["topic"]["code"] == "contraindication"]
    assert len(critical) == 1
    for expected in _assessed(MG_ROW):
        assert expected.contraindication.level == mg.ContraLevel.CONTRAINDICATED
    core = [next(c for c in a.cards if c.topic == "contraindication")
            for a in _assessed({**MG_ROW, "medications": "Magnesium Oxide 400 MG Oral Tablet"})]
    assert (critical[0]["summary"], critical[0]["detail"]) in [(c.summary, c.detail) for c in core]
    # only the cards that need attention, by default
    assert all(c["indicator"] in ("critical", "warning") for c in cards)
    for c in cards:  # the CDS Hooks card shape
        assert len(c["summary"]) < 140 and c["uuid"] and c["source"]["label"]
        assert c["source"]["topic"]["system"] and c["source"]["topic"]["code"]
        assert all(reason["display"] for reason in c["overrideReasons"])


def test_all_cards_are_exactly_those_of_mg_assess(client: httpx.Client) -> None:
    r = _post(client, PV, f.request("patient-view", _mg_prefetch()), cards="all")
    assert r.status_code == 200, r.text
    assert _core_cards(r.json()) in _expected(MG_ROW)


def test_patient_view_with_a_posted_bundle(client: httpx.Client) -> None:
    record = f.bundle(f.patient(), f.serum(1.5, "mg/dL"), f.egfr(70), f.condition("G70.00"),
                      f.medication("doxycycline hyclate 100 MG Oral Capsule"))
    r = _post(client, PV, record, cards="all")
    assert r.status_code == 200, r.text
    row = {**MG_ROW, "serum_mg": "1.5 mg/dL", "egfr": 70,
           "medications": _med("doxycycline hyclate 100 MG Oral Capsule")}
    assert _core_cards(r.json()) in _expected(row)
    assert any(c["indicator"] == "critical" for c in r.json()["cards"])


@pytest.mark.parametrize("service", [OSEL, OSIGN])
def test_order_hooks_interacting_drug_order(client: httpx.Client, service: str) -> None:
    """A doxycycline order for a patient on magnesium: the interaction card, with a suggestion to separate doses."""
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)],
                     statements=[f.medication("magnesium oxide 400 MG Oral Tablet")])
    draft = f.order("doxycycline hyclate 100 MG Oral Capsule", mid="doxy-1")
    r = _post(client, service, f.request(HOOKS[service], pre, drafts=[draft]))
    assert r.status_code == 200, r.text
    row = {"patient_id": f.PATIENT_ID, "date_of_birth": "1970-05-01", "sex": "F", "serum_mg": "0.8 mmol/L",
           "egfr": 85, "medications": _med("magnesium oxide 400 MG Oral Tablet")
           + _med("doxycycline hyclate 100 MG Oral Capsule")}
    expected = mg.assess(row)
    assert any("doxycycline" in i.drug for i in expected.interactions)
    inter = [c for c in r.json()["cards"] if c["source"]["topic"]["code"] == "interaction"]
    assert inter and any("doxycycline" in c["summary"] for c in inter)
    core = {c.summary for c in expected.cards if c.topic == "interaction"}
    assert {c["summary"] for c in inter} <= core
    assert "suggestions" not in inter[0]  # no FHIR action to take: the advice is in the card, its source a link
    assert inter[0]["links"] and all(link["type"] == "absolute" for link in inter[0]["links"])


@pytest.mark.parametrize("service", [OSEL, OSIGN])
def test_order_hooks_magnesium_order_for_myasthenia(client: httpx.Client, service: str) -> None:
    draft = f.order("magnesium sulfate 500 MG/ML Injectable Solution", mid="mg-iv-1")
    r = _post(client, service, f.request(HOOKS[service], _mg_prefetch(), drafts=[draft]))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    critical = [c for c in cards if c["indicator"] == "critical" and c["source"]["topic"]["code"] == "contraindication"]
    assert critical, cards
    row = {**MG_ROW, "medications": _med("magnesium sulfate 500 MG/ML Injectable Solution"), "route": "iv"}
    assert critical[0]["summary"] in [next(c.summary for c in a.cards if c.topic == "contraindication")
                                      for a in _assessed(row)]
    actions = [a for c in cards for s in c.get("suggestions", []) for a in s.get("actions", [])]
    assert {"type": "delete", "description": "Remove magnesium sulfate 500 MG/ML Injectable Solution",
            "resourceId": "MedicationRequest/mg-iv-1"} in actions


@pytest.mark.parametrize("service", [OSEL, OSIGN])
def test_order_hooks_with_a_posted_bundle(client: httpx.Client, service: str) -> None:
    record = f.bundle(f.patient(), f.serum(0.8), f.egfr(85), f.condition("G70.00"),
                      f.order("magnesium oxide 400 MG Oral Tablet", mid="mg-po-1"))
    r = _post(client, service, record)
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    assert any(c["indicator"] == "critical" for c in cards)
    assert any(a.get("resourceId") == "MedicationRequest/mg-po-1"
               for c in cards for s in c.get("suggestions", []) for a in s.get("actions", []))


def test_unknown_unit_and_unusable_data_are_stated_on_cards(client: httpx.Client) -> None:
    pre = f.prefetch(
        serum_obs=[f.serum(19.0, "mg/L")],  # a UCUM unit the core does not take for serum magnesium
        egfr_obs=[f.egfr(20, status="preliminary")],
        conditions=[f.condition("N18.4", verification="entered-in-error"), f.condition(None, "xyzzy disease")],
    )
    r = _post(client, PV, f.request("patient-view", pre))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    text = json.dumps(cards)
    assert "unit_unknown" in text and "mg/L" in text
    warning = next(c for c in cards if c["source"]["topic"]["code"] == "input" and c["indicator"] == "warning")
    assert "fhir_not_final" in warning["detail"]  # the eGFR not used: it touches the decision
    everything = json.dumps(_post(client, PV, f.request("patient-view", pre), cards="all").json())
    assert "fhir_entered_in_error" in everything and "xyzzy" in everything  # the rest: on the info card


def test_serum_value_without_ucum_unit_is_unit_missing(client: httpx.Client) -> None:
    pre = f.prefetch(serum_obs=[f.serum(0.7, None)], egfr_obs=[f.egfr(85)])
    r = _post(client, PV, f.request("patient-view", pre))
    text = json.dumps(r.json()["cards"])
    assert r.status_code == 200 and "unit_missing" in text
    pre = f.prefetch(serum_obs=[f.serum(0.7, "mmol/L", system=None)], egfr_obs=[f.egfr(85)])
    text = json.dumps(_post(client, PV, f.request("patient-view", pre), cards="all").json()["cards"])
    assert "unit_missing" not in text and "fhir_unit_not_ucum" in text and "0.7 mmol/L" in text  # read as written


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"hook": "order-sign", "hookInstance": "x", "context": {}}).encode(), "patient-view"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x"}).encode(), "context is missing"),
        (json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {}}).encode(), "patientId"),
        (json.dumps({"hook": "patient-view", "context": {"patientId": "p"}}).encode(), "hookInstance"),
        (json.dumps({"resourceType": "Bundle", "entry": {"x": 1}}).encode(), "Bundle.entry"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_bad_requests_get_a_400_with_a_clear_message(client: httpx.Client, body: bytes, words: str) -> None:
    r = client.post(f"/cds-services/{PV}", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert words in _diag(r)
    assert "Traceback" not in r.text


def test_other_errors(client: httpx.Client) -> None:
    r = _post(client, "no-such-service", {})
    assert r.status_code == 404 and "GET /cds-services" in _diag(r)
    r = _post(client, PV, f.request("patient-view", None))
    assert r.status_code == 412 and "prefetch" in _diag(r)
    other = f.prefetch(pat=f.patient("someone-else"))
    r = _post(client, PV, f.request("patient-view", other))
    assert r.status_code == 400 and "patientId" in _diag(r)
    r = _post(client, OSIGN, {"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p",
                                                                                      "draftOrders": []}})
    assert r.status_code == 400 and "draftOrders" in _diag(r)


def test_a_5_mb_bundle_is_read_and_a_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    noise = [f.observation("2823-3", 4.1 + (i % 10) / 10, "mmol/L", when=f"2026-0{1 + i % 9}-01T08:00:00Z")
             for i in range(22_000)]  # potassium results: not magnesium, read past and counted
    record = f.bundle(f.patient(), f.serum(0.8), f.egfr(85), f.condition("G70.00"), *noise)
    raw = json.dumps(record).encode()
    assert len(raw) >= 5_000_000
    r = client.post(f"/cds-services/{PV}", content=raw, params={"cards": "all"},
                    headers={"Content-Type": "application/fhir+json"})
    assert r.status_code == 200, r.text[:500]
    assert _core_cards(r.json()) in _expected(MG_ROW)
    notes = next(c for c in r.json()["cards"] if c["source"]["topic"]["code"] == "input")
    assert "22000 Observation (other codes)" in notes["detail"]
    r = client.post(f"/cds-services/{PV}", content=b" " * (16 * 1024 * 1024 + 1),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in _diag(r)


def test_no_cors_by_default_and_json_required(client: httpx.Client) -> None:
    """A web page elsewhere cannot call the service from a browser, nor write to it with a simple text POST."""
    r = client.options(f"/cds-services/{PV}", headers={"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    r = client.post(f"/cds-services/{PV}/feedback", content=b'{"feedback": []}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json" in _diag(r)


def test_logs_carry_no_patient_identifier(client: httpx.Client, server: Server) -> None:
    client.post(f"/cds-services/{PV}", content=b"{bad")
    body = f.request("patient-view", _mg_prefetch())
    _post(client, PV, body)
    log = server.log_once(body["hookInstance"])  # the lines of both calls, in order
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e.get("service") == PV and e.get("status") == 200 and e.get("hookInstance") for e in lines)
    assert f.PATIENT_ID not in log and f.PATIENT_NAME not in log and "1970-05-01" not in log


def test_an_internal_error_is_a_json_500_without_traceback_or_data(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Any, caplog: pytest.LogCaptureFixture
                                                                   ) -> None:
    """In process (the failure is injected): the client gets an incident id, the log the code lines only."""
    from mgdecision.service import app as service_app

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"secret {f.PATIENT_ID}")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=service_app.create_app(tmp_path / "db.sqlite3"))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as in_process:
            return await in_process.post(f"/cds-services/{PV}", json=f.request("patient-view", _mg_prefetch()))

    monkeypatch.setattr(service_app, "evaluate", broken)
    with ThreadPoolExecutor(1) as pool:  # its own event loop, even where a browser test left one running
        r = pool.submit(asyncio.run, call()).result()
    assert r.status_code == 500 and "incident" in _diag(r)
    assert f.PATIENT_ID not in r.text and "Traceback" not in r.text
    assert any(getattr(r, "exception", None) == "RuntimeError" for r in caplog.records)
    assert f.PATIENT_ID not in caplog.text


def test_order_select_checks_the_selected_orders_and_order_sign_takes_any_draft_status(client: httpx.Client) -> None:
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)],
                     statements=[f.medication("magnesium citrate 200 MG Oral Tablet")])
    doxy = f.order("doxycycline hyclate 100 MG Oral Capsule", mid="doxy-1")
    levo = f.order("levothyroxine sodium 0.1 MG Oral Tablet", mid="levo-1")
    body = f.request("order-select", pre, drafts=[doxy, levo])
    body["context"]["selections"] = ["MedicationRequest/doxy-1"]
    summaries = [c["summary"] for c in _post(client, OSEL, body).json()["cards"]]
    assert any("doxycycline" in s for s in summaries) and not any("levothyroxine" in s for s in summaries)
    levo["status"] = "active"  # an EHR that sends its draft orders with another status
    r = _post(client, OSIGN, f.request("order-sign", pre, drafts=[levo]))
    summaries = [c["summary"] for c in r.json()["cards"]]
    assert any("levothyroxine" in s for s in summaries)
