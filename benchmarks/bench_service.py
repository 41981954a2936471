"""CDS Hooks service speed against a minimal FastAPI app, both under uvicorn, measured in the same run.

    python benchmarks/bench_service.py [--clients 16 1] [--rounds 3] [--requests 150] [--bodies 64]
                                       [--kept-answers N]

Starts two servers on free ports of 127.0.0.1, each in its own process under uvicorn as ``mgdecision serve``
runs it (one process, asyncio loop, uvicorn's default HTTP parser, no access log):
  - service: ``mgdecision serve`` with its production defaults (4 evaluation threads, no CORS origin, auth off,
    log level info: one JSON line per request, to a file) and its SQLite store of issued cards and feedback in
    a temporary folder;
  - minimal: a FastAPI app defined here (not shipped) whose one POST route reads the body, parses it with the
    same JSON library and options, looks up the cards the service gives for that request (computed in this
    process beforehand with ``hooks.evaluate``) and encodes them as the service does: responses of the same
    byte size without any clinical work, storage, logging or budgets.
Requests are real CDS Hooks bodies built with the test suite's FHIR builders (tests/service/fhir_data.py):
patient-view and order-select (half each), prefetch with Patient and searchset Bundles of serum magnesium, eGFR,
Conditions and MedicationStatements (coded as an EHR sends them), draft orders for order-select; values vary
across ``--bodies`` distinct bodies, sent in turn. The service keeps the answer for a request's content (a chart
opened again), so bodies sent again are answered from it; ``--kept-answers 0`` runs it with none kept, every call
assessed: the figure for bodies never seen before. For each client count, ``--rounds`` rounds each run both
servers one after the other (which goes first alternates), every client sending ``--requests`` requests on one
keep-alive connection. Latencies are pooled over the rounds; server CPU per request is the server process's user +
system CPU time (psutil) over its runs divided by the requests answered; the service's work per request is also
timed stage by stage in this process, for a call assessed and for one answered from a kept answer. The ratio range
is over the rounds. Clients are threads of this process (http.client), so they share the 2 cores with the server:
the figures are for the whole loop on one machine. Machine load: the load average before and after, and the CPU
other processes used during the runs (all cores' busy time minus this process and the servers').
Goals: service p95 at 16 clients <= 1.5x the minimal app's, and < 50 ms. Every loop is bounded in count and time
and talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
from fastapi import FastAPI, Request
from fastapi.responses import Response

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_RATIO = 1.5
GOAL_P95_MS = 50.0
PV, OSEL = "magnesium-patient-view", "magnesium-order-select"
TIME_LIMIT_S = 120.0  # per run
START_LIMIT_S = 60.0


# ---------------------------------------------------------------- the requests


def bodies(n: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` (service, CDS Hooks request) pairs: patient-view and order-select in turn, values varied by index."""
    from tests.service import fhir_data as f

    meds = [("omeprazole 20 MG Delayed Release Oral Capsule", "7646"), ("Furosemide 40 MG Oral Tablet", "313988"),
            ("Levothyroxine Sodium 0.075 MG Oral Tablet", "966222"),
            ("Doxycycline Monohydrate 100 MG Oral Tablet", "1650142"), ("magnesium oxide 400 MG Oral Tablet", "0")]
    orders = ["magnesium oxide 400 MG Oral Tablet", "doxycycline hyclate 100 MG Oral Capsule",
              "magnesium sulfate 500 MG/ML Injectable Solution", "levothyroxine sodium 0.1 MG Oral Tablet"]
    conditions = ["E11.9", "I10", "K50.90", "N18.3", "G35", "G70.00"]
    out = []
    for i in range(n):
        pid = f"bench-{i}"
        serum = (f.serum(round(0.45 + (i % 23) / 25, 2), pid=pid) if i % 4 else
                 f.serum(round(1.2 + (i % 13) / 10, 1), "mg/dL", pid=pid))
        pre = f.prefetch(
            pat=f.patient(pid, birth=f"{1935 + i % 65}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                          gender="female" if i % 3 else "male"),
            serum_obs=[serum, f.serum(0.8, pid=pid, when="2026-01-10T09:00:00Z")],
            egfr_obs=[f.egfr(22 + (i * 7) % 80, pid=pid)],
            conditions=[f.condition(c, pid=pid) for c in conditions[i % 3: i % 3 + 2 + i % 3]],
            statements=[f.medication(d, rxcui=c, pid=pid) for d, c in meds[: 2 + i % 4]])
        if i % 2 == 0:
            out.append((PV, f.request("patient-view", pre, pid=pid)))
        else:
            drafts = [f.order(orders[(i // 2) % len(orders)], mid=f"draft-{i}", pid=pid)]
            out.append((OSEL, f.request("order-select", pre, drafts=drafts, pid=pid)))
    return out


# ---------------------------------------------------------------- the minimal app (run in its own process)


def minimal_app(responses_file: str) -> Any:
    """A FastAPI app answering each request with the cards the service gives for it (looked up by hookInstance)."""
    responses: dict[str, Any] = json.loads(Path(responses_file).read_text(encoding="utf-8"))
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/cds-services")
    async def services() -> Response:
        return Response(b'{"services": []}', media_type="application/json")

    @app.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> Response:
        body = json.loads(await request.body())
        cards = responses[body["hookInstance"]]
        return Response(json.dumps(cards, ensure_ascii=False, allow_nan=False).encode(),
                        media_type="application/json")

    return app


def serve_minimal(port: int, responses_file: str) -> None:
    import uvicorn

    uvicorn.run(minimal_app(responses_file), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------- load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/cds-services")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the {name} server did not start")
        time.sleep(0.1)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # ms
    wall: float = 0.0
    cpu: float = 0.0  # server process CPU seconds
    received: int = 0  # response bytes
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)


def drive(port: int, payloads: list[tuple[str, bytes]], clients: int, per_client: int) -> tuple[list[float], float,
                                                                                                  int, int]:
    """(latencies ms, wall s, response bytes, non-200 answers): ``clients`` threads with keep-alive connections,
    each sending ``per_client`` requests."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    received, errors = [0] * clients, [0] * clients
    deadline = time.monotonic() + TIME_LIMIT_S
    gate = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        gate.wait()
        for k in range(per_client):
            if time.monotonic() > deadline:
                break
            path, data = payloads[(n * per_client + k) % len(payloads)]
            t0 = time.perf_counter()
            conn.request("POST", path, body=data, headers=headers)
            response = conn.getresponse()
            received[n] += len(response.read())
            latencies[n].append((time.perf_counter() - t0) * 1000)
            errors[n] += response.status != 200
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return [x for per in latencies for x in per], time.perf_counter() - t0, sum(received), sum(errors)


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _busy() -> float:
    """CPU seconds all cores have been busy since boot (guest time is already counted in user time)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + sum(getattr(t, k, 0.0) for k in ("irq", "softirq", "steal")))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ---------------------------------------------------------------- in-process stages (where the service's time goes)


def _add_stages(spent: dict[str, float], names: tuple[str, ...], marks: list[float]) -> None:
    """Each stage's CPU time (between its marks) added to its total."""
    for name, (start, end) in zip(names, pairwise(marks), strict=True):
        spent[name] += end - start


def stages(requests: list[tuple[str, dict[str, Any]]], payloads: list[tuple[str, bytes]], db: Path,
           repeat: int = 400) -> dict[str, float]:
    """CPU microseconds per request of each stage of the service's work, called in this process."""
    import mgdecision as mg
    from mgdecision.service import hooks
    from mgdecision.service.app import _parse
    from mgdecision.service.audit import FeedbackStore

    store = FeedbackStore(db)
    today = datetime.now(UTC).date()
    names = ("parse", "size check", "from_fhir", "assess", "cards", "store", "encode")
    spent = dict.fromkeys(names, 0.0)
    try:
        for k in range(repeat * 2):  # the first pass warms the caches
            (service, _), (_, raw) = requests[k % len(requests)], payloads[k % len(payloads)]
            marks = [time.process_time()]
            body = _parse(raw)
            marks.append(time.process_time())
            hooks.count_list_resources(body)
            marks.append(time.process_time())
            hook, context, inputs = hooks.check_request(service, body)
            row = mg.from_fhir(inputs, patient_id=context.get("patientId"), as_of=today)
            marks.append(time.process_time())
            mg.assess(row)
            marks.append(time.process_time())
            result = hooks._respond(hook, context, row, False)  # assesses again: that time is taken off below
            marks.append(time.process_time())
            store.issue(service, result.issued)
            marks.append(time.process_time())
            json.dumps(result.body, ensure_ascii=False, allow_nan=False).encode()
            marks.append(time.process_time())
            if k >= repeat:
                _add_stages(spent, names, marks)
    finally:
        store.close()
    spent["cards"] -= spent["assess"]
    return {k: v / repeat * 1e6 for k, v in spent.items()}


def kept_stages(requests: list[tuple[str, dict[str, Any]]], payloads: list[tuple[str, bytes]], db: Path,
                repeat: int = 400) -> dict[str, float]:
    """CPU microseconds per request of each stage of a call answered from a kept answer (a chart opened again),
    called in this process: found by the body around its hookInstance ("cut"), as these bodies are when sent again,
    or else read and checked ("read", "checks": the same content in a body that differs elsewhere), then "render"
    (fresh uuids) and "store" (the cards issued). The log line and the writing of the issued cards to the file,
    both done by threads of their own in the server, are not included."""
    from mgdecision.service.app import _days, _instance, _read
    from mgdecision.service.audit import FeedbackStore
    from mgdecision.service.hooks import check_request, count_list_resources, evaluate
    from mgdecision.service.memo import AnswerMemo, answer_of, instance_cut

    store = FeedbackStore(db)
    memo, by_body = AnswerMemo(max_entries=len(requests)), AnswerMemo(max_entries=len(requests))
    names = ("cut", "read", "checks", "render", "store")
    spent = dict.fromkeys(names, 0.0)
    try:
        for (service, _), (_, raw) in zip(requests, payloads, strict=True):
            body, content, cut = _read(raw)
            assert content is not None and cut is not None
            result = evaluate(service, body, today=_days()[0])
            encoded = json.dumps(result.body, ensure_ascii=False, allow_nan=False).encode()
            answer = answer_of(result, encoded, count_list_resources(body))
            assert answer is not None
            memo.put(memo.key(service, False, _days(), content), answer)
            by_body.put(by_body.key(service, False, _days(), cut), answer)
        for k in range(repeat * 2):  # the first pass warms the caches
            (service, _), (_, raw) = requests[k % len(requests)], payloads[k % len(payloads)]
            marks = [time.process_time()]
            cut_at = instance_cut(raw)
            found = by_body.get(by_body.key(service, False, _days(), cut_at[:2] if cut_at else ()))
            marks.append(time.process_time())
            body, content, _ = _read(raw)
            marks.append(time.process_time())
            check_request(service, body)
            _instance(body)
            assert found is not None and found is memo.get(memo.key(service, False, _days(), content or ()))
            marks.append(time.process_time())
            _, rows = found.render()
            marks.append(time.process_time())
            store.issue_rows(service, rows)
            marks.append(time.process_time())
            if k >= repeat:
                _add_stages(spent, names, marks)
    finally:
        store.close()
    return {k: v / repeat * 1e6 for k, v in spent.items()}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 1])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per client count (each runs both servers)")
    parser.add_argument("--requests", type=int, default=150, help="requests per client per run")
    parser.add_argument("--bodies", type=int, default=64, help="distinct request bodies sent in turn")
    parser.add_argument("--kept-answers", type=int, default=None, metavar="N",
                        help="the service's --kept-answers (default: its own default; 0: every call assessed)")
    parser.add_argument("--serve-minimal", nargs=2, metavar=("PORT", "RESPONSES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_minimal:
        serve_minimal(int(args.serve_minimal[0]), args.serve_minimal[1])
        return

    import mgdecision as mg
    from mgdecision.service.hooks import evaluate

    requests = bodies(args.bodies)
    payloads = [(f"/cds-services/{service}", json.dumps(b).encode()) for service, b in requests]
    responses = {b["hookInstance"]: evaluate(service, b).body for service, b in requests}
    names = ("service", "minimal")
    results: dict[tuple[str, int], list[Run]] = {(n, c): [] for n in names for c in args.clients}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "responses.json").write_text(json.dumps(responses), encoding="utf-8")
        ports = {n: _free_port() for n in names}
        log = (folder / "service.log").open("wb")
        commands = {
            "service": [sys.executable, "-m", "mgdecision.batch", "serve", "--port", str(ports["service"]), "--db",
                        str(folder / "feedback.sqlite3"),
                        *(["--kept-answers", str(args.kept_answers)] if args.kept_answers is not None else [])],
            "minimal": [sys.executable, str(Path(__file__).resolve()), "--serve-minimal", str(ports["minimal"]),
                        str(folder / "responses.json")],
        }
        procs = {n: subprocess.Popen(cmd, stdout=log, stderr=log) for n, cmd in commands.items()}
        try:
            for n in names:
                _wait_ready(ports[n], procs[n], n)
            watched = {n: psutil.Process(p.pid) for n, p in procs.items()}
            me = psutil.Process()
            for n in names:  # warm-up: every body once, then a short concurrent burst
                drive(ports[n], payloads, 1, len(payloads))
                drive(ports[n], payloads, 16, 20)
            busy0, ours0 = _busy(), _cpu(me) + sum(_cpu(p) for p in watched.values())
            measured0 = time.perf_counter()
            for clients in args.clients:
                for r in range(args.rounds):
                    for n in names if r % 2 == 0 else names[::-1]:
                        cpu0 = _cpu(watched[n])
                        latencies, wall, received, errors = drive(ports[n], payloads, clients, args.requests)
                        results[n, clients].append(Run(latencies, wall, _cpu(watched[n]) - cpu0, received, errors))
            measured = time.perf_counter() - measured0
            others = (_busy() - busy0) - (_cpu(me) + sum(_cpu(p) for p in watched.values()) - ours0)
        finally:
            for p in procs.values():
                p.terminate()
            for p in procs.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
            log.close()
        profile = stages(requests, payloads, folder / "stages.sqlite3")
        kept_profile = kept_stages(requests, payloads, folder / "kept.sqlite3")
    load_after = os.getloadavg()

    cores = psutil.cpu_count() or 1
    print(f"mgdecision service against a minimal FastAPI app, both under uvicorn {_version('uvicorn')} "
          f"(FastAPI {_version('fastapi')}), on 127.0.0.1; knowledge {mg.KNOWLEDGE_VERSION}; Python "
          f"{sys.version.split()[0]}; {cores} cores")
    kept = "" if args.kept_answers is None else f"; service run with --kept-answers {args.kept_answers}"
    print(f"requests: {len(payloads)} distinct patient-view / order-select bodies of "
          f"{min(len(p) for _, p in payloads)}-{max(len(p) for _, p in payloads)} bytes; {args.rounds} rounds x "
          f"{args.requests} requests per client per server, alternating{kept}")
    print(f"machine load: load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; other processes "
          f"used about {max(0.0, others / measured):.2f} of the {cores} cores while measuring ({measured:.0f} s)")
    print(f"{'clients':>7} {'server':<9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'CPU ms/req':>11}"
          f"{'resp B':>8}{'errors':>8}")
    for clients in args.clients:
        for n in names:
            runs = results[n, clients]
            lat = [x for run in runs for x in run.latencies]
            count = sum(run.count for run in runs)
            print(f"{clients:>7} {n:<9}{count / sum(run.wall for run in runs):>8.0f}{_pct(lat, 50):>9.2f}"
                  f"{_pct(lat, 95):>9.2f}{_pct(lat, 99):>9.2f}{sum(run.cpu for run in runs) / count * 1000:>11.3f}"
                  f"{sum(run.received for run in runs) / count:>8.0f}{sum(run.errors for run in runs):>8}")
    print("service / minimal (pooled; [range over rounds]):")
    verdict = ""
    for clients in args.clients:
        s, m = results["service", clients], results["minimal", clients]
        parts = []
        for label, measure in (("p50", lambda rs: _pct([x for r in rs for x in r.latencies], 50)),
                               ("p95", lambda rs: _pct([x for r in rs for x in r.latencies], 95)),
                               ("throughput", lambda rs: sum(r.count for r in rs) / sum(r.wall for r in rs)),
                               ("CPU/request", lambda rs: sum(r.cpu for r in rs) / sum(r.count for r in rs))):
            parts.append(f"{label} {_ratio(measure, s, m)}")
        print(f"  {clients:>2} clients: " + "; ".join(parts))
        if clients == 16:
            p95 = _pct([x for r in s for x in r.latencies], 95) / _pct([x for r in m for x in r.latencies], 95)
            verdict = f"goal: p95 at 16 clients <= {GOAL_RATIO}x the minimal app: {p95:.2f}x " + (
                "(met)" if p95 <= GOAL_RATIO else "(NOT met)")
    print("service work per request assessed, called in this process (CPU us): "
          + ", ".join(f"{k} {v:.0f}" for k, v in profile.items()) + f"; total {sum(profile.values()):.0f}")
    same_body = sum(v for k, v in kept_profile.items() if k not in ("read", "checks"))
    print("answered from a kept answer (a chart opened again; CPU us): "
          + ", ".join(f"{k} {v:.0f}" for k, v in kept_profile.items())
          + f"; total {same_body:.0f} for the same body (no read or checks), "
          f"{sum(kept_profile.values()) - kept_profile['cut']:.0f} for the same content in another body")
    if verdict:
        print(verdict)
    if 16 in args.clients:
        p95 = _pct([x for r in results["service", 16] for x in r.latencies], 95)
        print(f"goal: service p95 at 16 clients < {GOAL_P95_MS:.0f} ms: {p95:.1f} ms "
              f"({'met' if p95 < GOAL_P95_MS else 'NOT met'})")


def _ratio(measure: Callable[[list[Run]], float], service: list[Run], minimal: list[Run]) -> str:
    pooled = measure(service) / measure(minimal)
    per_round = [measure([s]) / measure([m]) for s, m in zip(service, minimal, strict=True)]
    return f"{pooled:.2f}x [{min(per_round):.2f}-{max(per_round):.2f}]"


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
