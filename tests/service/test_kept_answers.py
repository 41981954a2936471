"""Answers kept for the request content that determines them: a chart opened again gets the same cards with
fresh uuids, each recorded as issued; any other content, another day or ``?cards=all`` is assessed anew; the
request is still checked in full; the body is read exactly as json.loads reads it."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mgdecision.service import app as service_app
from mgdecision.service.app import ServiceConfig, create_app
from mgdecision.service.hooks import new_uuids
from mgdecision.service.memo import AnswerMemo, instance_cut, parse

from . import fhir_data as f
from .test_budget_and_security import check_response

PV, OSEL = "magnesium-patient-view", "magnesium-order-select"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _calls(app: Any, *requests: tuple[str, Any]) -> list[httpx.Response]:
    """POST each (path, JSON body or raw bytes) in turn to the app, in process."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            out = []
            for path, body in requests:
                if isinstance(body, bytes):
                    out.append(await client.post(path, content=body, headers={"Content-Type": "application/json"}))
                else:
                    out.append(await client.post(path, json=body))
            return out

    with ThreadPoolExecutor(1) as pool:  # its own event loop
        return pool.submit(asyncio.run, run()).result()


def _uuids(body: dict[str, Any]) -> list[str]:
    return [u for c in body["cards"] for u in (c["uuid"], *(s["uuid"] for s in c.get("suggestions", [])))]


def _without_uuids(body: dict[str, Any]) -> str:
    return _UUID.sub("<uuid>", json.dumps(body))


def _critical_request(hook: str = "patient-view") -> dict[str, Any]:
    pre = f.prefetch(serum_obs=[f.serum(0.8)], egfr_obs=[f.egfr(85)], conditions=[f.condition("G70.00")],
                     statements=[f.medication("magnesium oxide 400 MG Oral Tablet")])
    drafts = [f.order("magnesium oxide 400 MG Oral Tablet")] if hook != "patient-view" else None
    return f.request(hook, pre, drafts=drafts)


def test_a_chart_opened_again_gets_the_same_cards_with_fresh_uuids_each_issued(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch
                                                                                 ) -> None:
    app = create_app(tmp_path / "db.sqlite3")
    assessed = []
    evaluate = service_app.evaluate
    monkeypatch.setattr(service_app, "evaluate", lambda *a, **k: assessed.append(1) or evaluate(*a, **k))
    first = _critical_request("order-select")
    again = copy.deepcopy(first)
    again["hookInstance"] = str(uuid.uuid4())  # a new call for the same chart
    r1, r2, r3 = _calls(app, (f"/cds-services/{OSEL}", first), (f"/cds-services/{OSEL}", again),
                        (f"/cds-services/{OSEL}", first))
    assert r1.status_code == r2.status_code == r3.status_code == 200
    assert len(assessed) == 1 and len(app.state.memo) == 1
    bodies = [r.json() for r in (r1, r2, r3)]
    assert _without_uuids(bodies[0]) == _without_uuids(bodies[1]) == _without_uuids(bodies[2])
    ids = [u for b in bodies for u in _uuids(b)]
    assert len(ids) == len(set(ids)) == 3 * len(_uuids(bodies[0])) and all(_UUID.fullmatch(u) for u in ids)
    assert any(c.get("suggestions") for c in bodies[1]["cards"])  # suggestion uuids are fresh too
    store = app.state.store
    for b in bodies:
        check_response(b)
        for card in b["cards"]:
            issued = store.issued(card["uuid"])
            assert issued is not None and issued["summary"] == card["summary"]
            assert issued["suggestions"] == [s["uuid"] for s in card.get("suggestions", [])]
            assert issued["override_codes"] == [o["code"] for o in card.get("overrideReasons", [])]
    store.close()


def test_other_content_another_day_or_every_card_is_assessed_anew(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(tmp_path / "db.sqlite3")
    assessed = []
    evaluate = service_app.evaluate
    monkeypatch.setattr(service_app, "evaluate", lambda *a, **k: assessed.append(k["today"]) or evaluate(*a, **k))
    body = _critical_request()
    other = copy.deepcopy(body)
    other["prefetch"]["serumMagnesium"]["entry"][0]["resource"]["valueQuantity"]["value"] = 1.4
    other_patient = copy.deepcopy(body)
    other_patient["context"]["patientId"] = "someone-else"
    url = f"/cds-services/{PV}"
    r = _calls(app, (url, body), (url, other), (url, other_patient), (f"{url}?cards=all", body), (url, body))
    assert [x.status_code for x in r] == [200, 200, 400, 200, 200]  # (its Patient is not context.patientId)
    assert len(assessed) == 4  # the last one only is answered from the kept answer
    assert _without_uuids(r[0].json()) != _without_uuids(r[1].json())
    assert len(r[3].json()["cards"]) > len(r[0].json()["cards"])
    today = date.today()
    monkeypatch.setattr(service_app, "_days", lambda: (today + timedelta(days=1), today + timedelta(days=1)))
    r = _calls(app, (url, body))
    assert r[0].status_code == 200 and len(assessed) == 5 and assessed[-1] == today + timedelta(days=1)
    assert len(app.state.memo) == 1  # the day before's answers are gone
    app.state.store.close()


def test_a_request_answered_from_a_kept_answer_is_still_checked(tmp_path: Path) -> None:
    app = create_app(tmp_path / "db.sqlite3")
    body = _critical_request()
    no_instance = {k: v for k, v in body.items() if k != "hookInstance"}
    wrong_hook = {**body, "hook": "order-sign"}
    bad_instance = {**body, "hookInstance": 5}
    url = f"/cds-services/{PV}"
    r = _calls(app, (url, body), (url, no_instance), (url, wrong_hook), (url, bad_instance),
               (f"/cds-services/{OSEL}", body))
    assert r[0].status_code == 200
    assert [x.status_code for x in r[1:]] == [400, 400, 400, 400]
    assert "hookInstance is missing" in r[1].text and "'patient-view' hook" in r[2].text
    app.state.store.close()


def test_the_size_budget_holds_and_no_answer_is_kept_when_told(tmp_path: Path) -> None:
    body = _critical_request()
    body["prefetch"]["medicationStatements"]["entry"] *= 3
    url = f"/cds-services/{PV}"
    small = create_app(ServiceConfig(tmp_path / "a.sqlite3", max_items=2))
    assert [x.status_code for x in _calls(small, (url, body), (url, body))] == [413, 413]
    none_kept = create_app(ServiceConfig(tmp_path / "b.sqlite3", kept_answers=0))
    assert [x.status_code for x in _calls(none_kept, (url, body), (url, body))] == [200, 200]
    assert len(none_kept.state.memo) == 0
    for app in (small, none_kept):
        app.state.store.close()


@pytest.mark.parametrize("raw", [
    b'{"a": 1, "b": [1, 2.5, "x"], "c": {"d": null}}',
    b' \n{ "hook" : "patient-view" ,"context":{"patientId":"p"},\t"prefetch" : {"x": {}} } \r\n',
    b'{"a": 1, "a": 2}',
    b'{}',
    '{"t": "caf\u00e9 \\u00e9 \\ud83d\\ude00"}'.encode(),
    b'{"big": 123456789012345678901234567890, "e": 1e400, "neg": -0.0}',
])
def test_the_body_is_read_as_json_loads_reads_it(raw: bytes) -> None:
    found = parse(raw, service_app._DECODER)
    assert found is not None
    body, _, _ = found
    assert json.dumps(body) == json.dumps(json.loads(raw))


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b'{"a": 1} x', b'{"a": NaN}', b'{"a" 1}', b'{"a": 1,}',
                                 b"\xff{}", b'{"a": "\x01"}', b"\xef\xbb\xbf{}"])
def test_what_is_not_a_plain_json_object_is_left_to_the_usual_reading(raw: bytes) -> None:
    assert parse(raw, service_app._DECODER) is None


def test_the_content_key_is_the_text_of_context_and_prefetch_as_sent() -> None:
    one = b'{"hook": "h", "hookInstance": "1", "context": {"patientId": "p"}, "prefetch": {"x": 1}}'
    two = b'{"prefetch": {"x": 1}, "hookInstance": "2", "fhirServer": "s", "context": {"patientId": "p"}}'
    three = b'{"hook": "h", "hookInstance": "1", "context": {"patientId": "q"}, "prefetch": {"x": 1}}'
    keys = [parse(raw, service_app._DECODER)[1] for raw in (one, two, three)]  # type: ignore[index]
    assert keys[0] == keys[1] == ('{"patientId": "p"}', '{"x": 1}') and keys[2] != keys[0]
    bundle = b'{"resourceType": "Bundle", "entry": []}'
    assert parse(bundle, service_app._DECODER)[1] == (bundle.decode(),)  # type: ignore[index]
    assert parse(b'{"hook": "h", "context": {}}', service_app._DECODER)[1] is None  # type: ignore[index]


def test_the_memo_is_bounded_and_keeps_no_answer_of_a_day_gone() -> None:
    memo = AnswerMemo(max_entries=2, max_chars=10)
    day, next_day = (date(2026, 1, 1), date(2026, 1, 1)), (date(2026, 1, 2), date(2026, 1, 2))
    answer: Any = object()
    for n in range(3):
        memo.put(memo.key(PV, False, day, (f"c{n}",)), answer)
    assert len(memo) == 2 and memo.get(memo.key(PV, False, day, ("c0",))) is None
    memo.put(memo.key(PV, False, day, ("x" * 9,)), answer)  # over the size bound: the oldest go
    assert len(memo) == 1
    memo.put(memo.key(PV, False, next_day, ("c",)), answer)
    memo.put(memo.key(PV, False, day, ("late",)), answer)  # computed before midnight, put after: not kept
    assert len(memo) == 1 and memo.get(memo.key(PV, False, next_day, ("c",))) is answer


def test_new_uuids_are_random_version_4() -> None:
    ids = new_uuids(600)
    assert len(set(ids)) == 600
    for u in ids:
        parsed = uuid.UUID(u)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == u


def test_cors_when_configured_still_wraps_hook_calls_and_a_get_there_is_405(tmp_path: Path) -> None:
    app = create_app(ServiceConfig(tmp_path / "db.sqlite3", cors_origins=("https://sandbox.example",)))

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            origin = {"Origin": "https://sandbox.example"}
            return [await client.post(f"/cds-services/{PV}", json=_critical_request(), headers=origin),
                    await client.options(f"/cds-services/{PV}", headers={**origin,
                                                                         "Access-Control-Request-Method": "POST"}),
                    await client.post(f"/cds-services/{PV}", json=_critical_request(),
                                      headers={"Origin": "https://evil.example"}),
                    await client.get(f"/cds-services/{PV}"),
                    await client.post("/cds-services/nothing-here", json={})]

    with ThreadPoolExecutor(1) as pool:
        answer, preflight, elsewhere, get, unknown = pool.submit(asyncio.run, run()).result()
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://sandbox.example"
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in elsewhere.headers
    assert get.status_code == 405 and unknown.status_code == 404
    app.state.store.close()


def test_a_body_sent_again_with_another_hook_instance_is_answered_without_reading_it_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(tmp_path / "db.sqlite3")
    checked, assessed = [], []
    check, evaluate = service_app.check_request, service_app.evaluate
    monkeypatch.setattr(service_app, "check_request", lambda *a: checked.append(1) or check(*a))
    monkeypatch.setattr(service_app, "evaluate", lambda *a, **k: assessed.append(1) or evaluate(*a, **k))
    body = _critical_request()
    raw = json.dumps(body).encode()
    again = raw.replace(body["hookInstance"].encode(), b"another-call.1")
    url = f"/cds-services/{PV}"
    r = _calls(app, (url, raw), (url, raw), (url, again))
    assert [x.status_code for x in r] == [200, 200, 200] and len(assessed) == 1 and checked == []
    assert len(app.state.memo_by_body) == 1
    assert _without_uuids(r[0].json()) == _without_uuids(r[1].json()) == _without_uuids(r[2].json())
    ids = [u for x in r for u in _uuids(x.json())]
    assert len(set(ids)) == len(ids)
    for x in r[1:]:
        for card in x.json()["cards"]:
            assert app.state.store.issued(card["uuid"]) is not None
    # any other byte: read and checked (and answered from the content when that is the same)
    spaced = raw.replace(b'"context": ', b'"context":  ')
    wrong_hook = raw.replace(b'"hook": "patient-view"', b'"hook": "order-sign"')
    r = _calls(app, (url, spaced), (url, wrong_hook))
    assert r[0].status_code == 200 and r[1].status_code == 400 and len(checked) == 2 and len(assessed) == 1
    app.state.store.close()


def test_a_hook_instance_that_is_not_the_top_level_one_is_never_cut(tmp_path: Path) -> None:
    body = _critical_request()
    # an element named hookInstance after the real one (inside a resource: not read), and an escaped real one
    body["prefetch"]["patient"]["hookInstance"] = "nested-1"
    escaped = json.dumps(_critical_request()).replace('"hookInstance"', '"hook\\u0049nstance"').encode()
    app = create_app(tmp_path / "db.sqlite3")
    url = f"/cds-services/{PV}"
    nested = json.dumps(body).encode()
    r = _calls(app, (url, nested), (url, escaped))
    assert [x.status_code for x in r] == [200, 200]
    assert len(app.state.memo_by_body) == 0 and len(app.state.memo) == 2
    for raw in (nested, escaped):
        assert service_app._read(raw)[2] is None
    app.state.store.close()


def test_instance_cut() -> None:
    raw = b'{"hook": "patient-view", "hookInstance" :\t"abc-1.2:x_Y", "context": {}}'
    assert instance_cut(raw) == (b'{"hook": "patient-view", "hookInstance" :\t"', b'", "context": {}}',
                                 "abc-1.2:x_Y")
    for other in (b'{"hookInstance": "a b"}', b'{"hookInstance": "a\\u0041"}', b'{"hookInstance": 5}',
                  b'{"hookInstance": ""}', b'{"hook": "x"}', b'{"hookInstance": "' + b"a" * 65 + b'"}'):
        assert instance_cut(other) is None
