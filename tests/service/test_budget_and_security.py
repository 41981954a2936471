"""The alert budget, a failed prefetch, hostile requests, bearer tokens and budgets, on the real server; every
answer checked against a JSON Schema of the CDS Hooks 2.0 response."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mgdecision.service.hooks import evaluate

from . import fhir_data as f
from .conftest import Server

PV, OSIGN = "magnesium-patient-view", "magnesium-order-sign"
_CODING = {"type": "object", "required": ["code"], "properties": {"system": {"type": "string"},
                                                                   "code": {"type": "string"},
                                                                   "display": {"type": "string"}}}
CARD_SCHEMA = {
    "type": "object", "required": ["cards"], "additionalProperties": False,
    "properties": {"systemActions": {"type": "array"}, "cards": {"type": "array", "items": {
        "type": "object", "required": ["summary", "indicator", "source"],
        "properties": {
            "uuid": {"type": "string"}, "summary": {"type": "string", "maxLength": 139},
            "detail": {"type": "string"}, "indicator": {"enum": ["info", "warning", "critical"]},
            "source": {"type": "object", "required": ["label"], "properties": {
                "label": {"type": "string"}, "url": {"type": "string"}, "topic": _CODING}},
            "suggestions": {"type": "array", "items": {
                "type": "object", "required": ["label", "actions"], "properties": {
                "label": {"type": "string"}, "uuid": {"type": "string"}, "isRecommended": {"type": "boolean"},
                "actions": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["type"],
                                                                       "properties": {
                    "type": {"enum": ["create", "update", "delete"]}}}}}}},
            "selectionBehavior": {"enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": {**_CODING, "required": ["code", "display"]}},
            "links": {"type": "array", "items": {"type": "object", "required": ["label", "url", "type"]}},
            "extension": {"type": "object"}},
        "dependentRequired": {"suggestions": ["selectionBehavior"]}}}}}


def check_response(body: dict[str, Any]) -> None:
    """The CDS Hooks 2.0 shape, and cds-resp-1: at most one recommended suggestion under at-most-one."""
    jsonschema.validate(body, CARD_SCHEMA)
    for card in body["cards"]:
        if card.get("selectionBehavior") == "at-most-one":
            assert sum(bool(s.get("isRecommended")) for s in card["suggestions"]) <= 1
        assert ".invalid" not in json.dumps(card)


def _indicators(body: dict[str, Any]) -> list[str]:
    return [c["indicator"] for c in body["cards"]]


def test_egfr_below_30_without_magnesium_in_play_gives_no_critical_card() -> None:
    quiet = evaluate(PV, f.request("patient-view", f.prefetch(serum_obs=[f.serum(0.85)], egfr_obs=[f.egfr(20)]))).body
    check_response(quiet)
    assert "critical" not in _indicators(quiet) and "warning" not in _indicators(quiet)
    assert len(quiet["cards"]) <= 1 and quiet["cards"][0]["source"]["topic"]["code"] == "summary"
    on_mg = f.prefetch(serum_obs=[f.serum(0.85)], egfr_obs=[f.egfr(20)],
                       statements=[f.medication("Magnesium Oxide 400 MG Oral Tablet")])
    loud = evaluate(PV, f.request("patient-view", on_mg)).body
    check_response(loud)
    assert "critical" in _indicators(loud)
    assert loud["cards"][0]["extension"]["org.mgdecision"]["inPlay"] == "a current magnesium product"


@pytest.mark.parametrize("product", ["Milk of Magnesia 400 MG per 5 ML Oral Suspension", "Maalox 10 mL qid",
                                     "Mag-Ox 400 BID"])
def test_a_magnesium_product_named_by_brand_or_antacid_puts_magnesium_in_play(product: str) -> None:
    on_mg = f.prefetch(serum_obs=[f.serum(0.85)], egfr_obs=[f.egfr(20)], statements=[f.medication(product)])
    body = evaluate(PV, f.request("patient-view", on_mg)).body
    check_response(body)
    assert "critical" in _indicators(body)
    assert body["cards"][0]["extension"]["org.mgdecision"]["inPlay"] == "a current magnesium product"


def test_when_the_next_step_is_to_measure_the_decision_card_orders_it_once() -> None:
    on_ppi = f.prefetch(egfr_obs=[f.egfr(80)], statements=[f.medication("omeprazole 20 MG", rxcui="7646"),
                                                           f.medication("hydrochlorothiazide 25 MG", rxcui="5487")])
    body = evaluate(PV, f.request("patient-view", on_ppi)).body
    check_response(body)
    dose = [c for c in body["cards"] if c["source"]["topic"]["code"] == "dose"]
    assert len(dose) == 1 and dose[0]["summary"].startswith("Measure serum magnesium first")
    assert dose[0]["extension"]["org.mgdecision"]["inPlay"] == "the next step is to measure"
    orders = [a["resource"] for c in body["cards"] for s in c.get("suggestions", []) for a in s["actions"]
              if a.get("resource", {}).get("resourceType") == "ServiceRequest"]
    assert len(orders) == 1 and orders[0]["code"]["coding"][0]["code"] == "19123-9"
    assert orders[0]["subject"]["reference"].startswith("Patient/")


@pytest.mark.parametrize(("serum", "reason"), [(0.45, "a magnesium suggestion"),
                                               (2.9, "an abnormal serum magnesium")])
def test_an_abnormal_serum_puts_magnesium_in_play(serum: float, reason: str) -> None:
    body = evaluate(PV, f.request("patient-view", f.prefetch(serum_obs=[f.serum(serum)], egfr_obs=[f.egfr(80)]))).body
    check_response(body)
    assert any(c["indicator"] != "info" for c in body["cards"])
    assert body["cards"][0]["extension"]["org.mgdecision"]["inPlay"] in (reason, "a magnesium suggestion",
                                                                         "an abnormal serum magnesium")


def test_irrelevant_input_problems_do_not_warn_but_a_failed_prefetch_does() -> None:
    pre = f.prefetch(serum_obs=[f.serum(0.85)], egfr_obs=[f.egfr(80)],
                     conditions=[f.condition(None, "xyzzy disease"), f.condition("R73.03")])
    body = evaluate(PV, f.request("patient-view", pre)).body
    assert "warning" not in _indicators(body)
    pre["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    body = evaluate(PV, f.request("patient-view", pre)).body
    check_response(body)
    warning = next(c for c in body["cards"] if c["indicator"] == "warning")
    assert "the diagnoses" in warning["summary"] and "failed" in warning["summary"]
    everything = evaluate(PV, f.request("patient-view", pre), everything=True).body
    contra = next(c for c in everything["cards"] if c["source"]["topic"]["code"] == "contraindication")
    assert "not checked: the diagnoses" in contra["summary"]


def test_order_sign_removes_magnesium_orders_with_one_recommended_suggestion() -> None:
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")])
    drafts = [f.order("magnesium oxide 400 MG Oral Tablet", mid="a"), f.order("magnesium citrate", mid="b")]
    body = evaluate(OSIGN, f.request("order-sign", pre, drafts=drafts)).body
    check_response(body)
    cards = [c for c in body["cards"] if c.get("suggestions")]
    assert cards and all(len(c["suggestions"]) == 2 and c["selectionBehavior"] == "any" for c in cards)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"hook": "patient-view", "hookInstance": "\\ud800", "context": {"patientId": "\\udfff"}}', 400),
        (b'{"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "\xed\xb2\x80"}}', 400),  # raw
        (b'{"hook": "patient-view", "hookInstance": "x", "context": {"patientId": ' + b"9" * 5000 + b"}}", 400),
        (b'{"hook": "patient-view", "hookInstance": "x", "context": {"patientId": NaN}}', 400),
        (json.dumps(f.request("order-sign", f.prefetch(), drafts=[f.patient()])).encode(), 400),
        (json.dumps({**f.request("order-select", f.prefetch()), "context": {"patientId": f.PATIENT_ID,
                    "selections": [{}], "draftOrders": f.bundle()}}).encode(), 400),
    ],
)
def test_hostile_requests_get_a_json_4xx(client: httpx.Client, raw: bytes, status: int) -> None:
    service = OSIGN if b"order-sign" in raw else "magnesium-order-select" if b"order-select" in raw else PV
    r = client.post(f"/cds-services/{service}", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["resourceType"] == "OperationOutcome" and "Traceback" not in r.text


def test_a_huge_number_with_a_comparator_is_a_note_not_a_500(client: httpx.Client) -> None:
    obs = f.egfr(1)
    raw = json.dumps(f.request("patient-view", f.prefetch(egfr_obs=[obs]))).replace(
        '"value": 1', '"value": 1' + "0" * 400 + ', "comparator": "<"').encode()
    r = client.post(f"/cds-services/{PV}", content=raw, headers={"Content-Type": "application/json"},
                    params={"cards": "all"})
    assert r.status_code == 200, r.text
    check_response(r.json())


def test_healthz(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["schemaVersion"] >= 2


def _many_unknown(n: int) -> dict[str, Any]:
    meds = [f.medication(f"zz{uuid.uuid4().hex[:10]} tablet") for _ in range(n)]
    return f.request("patient-view", f.prefetch(serum_obs=[f.serum(0.8)], statements=meds))


def test_a_request_over_the_size_budget_is_refused_and_a_heavy_one_does_not_stall_a_light_one(
        client: httpx.Client) -> None:
    r = client.post(f"/cds-services/{PV}", json=_many_unknown(2500))
    assert r.status_code == 413 and "2000" in r.json()["issue"][0]["diagnostics"]
    heavy = _many_unknown(1900)
    done: dict[str, float] = {}

    def send_heavy() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=120) as other:
            t0 = time.perf_counter()
            assert other.post(f"/cds-services/{PV}", json=heavy).status_code in (200, 422)
            done["heavy"] = time.perf_counter() - t0

    thread = threading.Thread(target=send_heavy)
    thread.start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    light = client.post(f"/cds-services/{PV}", json=f.request("patient-view", f.prefetch(serum_obs=[f.serum(0.8)])))
    light_s = time.perf_counter() - t0
    thread.join()
    assert light.status_code == 200
    assert light_s < max(1.0, done["heavy"] / 2), (light_s, done)


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("auth")
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    (folder / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "ehr-1", "use": "sig",
                                                            "alg": "ES384"}]}))
    server = Server(folder / "db.sqlite3", folder / "log.txt", "--auth", "require", "--issuer",
                    "https://ehr.example", "--audience", "https://cds.example/cds-services", "--jwks",
                    str(folder / "jwks.json"))
    yield server, key
    server.stop()


def _token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": "https://ehr.example", "aud": "https://cds.example/cds-services", "exp": now + 300,
               "iat": now, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(payload, key, algorithm="ES384", headers={"kid": "ehr-1"})


def test_bearer_tokens_accepted_and_refused(signed: Any) -> None:
    server, key = signed
    body = f.request("patient-view", f.prefetch(serum_obs=[f.serum(0.8)]))
    url = f"{server.url}/cds-services/{PV}"
    ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {_token(key)}"})
    assert ok.status_code == 200, ok.text
    other = ec.generate_private_key(ec.SECP384R1())
    for headers in ({}, {"Authorization": "Bearer nonsense"},
                    {"Authorization": f"Bearer {_token(key, exp=int(time.time()) - 600)}"},
                    {"Authorization": f"Bearer {_token(key, iss='https://elsewhere.example')}"},
                    {"Authorization": f"Bearer {_token(key, aud='https://other.example')}"},
                    {"Authorization": f"Bearer {_token(other)}"}):
        r = httpx.post(url, json=body, headers=headers)
        assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome", (headers, r.text)


def test_the_schema_refuses_a_broken_response() -> None:
    with pytest.raises(jsonschema.ValidationError):
        check_response({"cards": [{"summary": "x", "indicator": "urgent", "source": {"label": "y"}}]})
    with pytest.raises(AssertionError):
        check_response({"cards": [{"summary": "x", "indicator": "info", "source": {"label": "y"},
                                   "selectionBehavior": "at-most-one", "suggestions": [
                                       {"label": "a", "isRecommended": True, "actions": [{"type": "create"}]},
                                       {"label": "b", "isRecommended": True, "actions": [{"type": "create"}]}]}]})


def test_every_response_of_the_other_tests_fits_the_schema(tmp_path: Path) -> None:
    for body in (f.request("patient-view", f.prefetch(serum_obs=[f.serum(0.3)], egfr_obs=[f.egfr(25)],
                                                      conditions=[f.condition("G70.00")])),
                 f.bundle(f.patient(), f.serum(1.5, "mg/dL"), f.medication("doxycycline 100 MG Oral Capsule"))):
        for everything in (False, True):
            check_response(evaluate(PV, body, everything=everything).body)
