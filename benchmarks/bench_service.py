"""CDS Hooks service speed: requests/s and latency of patient-view under 16 concurrent clients on 127.0.0.1.

    python benchmarks/bench_service.py [--clients 16] [--requests 200] [--bodies 64]

Starts ``mgdecision serve`` in a subprocess on a free port of 127.0.0.1 (feedback in a temporary database), then
measures in the same run:
  - reference 1, in-process: one request's work without HTTP (``from_fhir`` + ``mg.assess`` + card JSON), timed
    call by call in this process;
  - reference 2, HTTP floor: ``GET /cds-services`` (discovery, no clinical work) under the same concurrency;
  - patient-view: ``POST /cds-services/magnesium-patient-view`` with a realistic prefetch (Patient, serum
    magnesium, eGFR, conditions, medications; ~6 kB), bodies varied so every value is not served from the core's
    memo caches.
Clients are threads with keep-alive connections (http.client) in this process, so they share the machine's
cores with the server: the figures are for the whole loop on one machine. Goal (issue 14): p95 < 50 ms.
Every loop is bounded in count and time and talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import mgdecision as mg
from mgdecision.service.hooks import evaluate

GOAL_P95_MS = 50.0
SERVICE = "magnesium-patient-view"
UCUM, LOINC = "http://unitsofmeasure.org", "http://loinc.org"
TIME_LIMIT_S = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _obs(code: str, value: float, unit: str, when: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": uuid.uuid4().hex[:8], "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def body(i: int) -> dict[str, Any]:
    """A patient-view request; ``i`` varies the serum value, eGFR, birth date and the medication list."""
    pid = f"bench-{i}"
    meds = [("omeprazole 20 MG Delayed Release Oral Capsule", "active"), ("furosemide 40 MG Oral Tablet", "active"),
            ("doxycycline hyclate 100 MG Oral Capsule", "active" if i % 2 else "stopped"),
            ("levothyroxine sodium 0.1 MG Oral Tablet", "active")]
    conditions = ["E11.9", "G35", "K50.90" if i % 3 else "G70.00", "N18.3"]
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": "https://ehr.invalid/fhir",
        "context": {"userId": "Practitioner/1", "patientId": pid},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": pid, "gender": "female" if i % 2 else "male",
                        "birthDate": f"{1940 + i % 60}-0{1 + i % 9}-15"},
            "serumMagnesium": _searchset(_obs("2601-3", round(0.5 + (i % 40) / 50, 2), "mmol/L", "2026-11-20"),
                                         _obs("19123-9", 1.9, "mg/dL", "2026-06-01")),
            "egfr": _searchset(_obs("33914-3", 25 + i % 80, "mL/min/{1.73_m2}", "2026-11-20")),
            "pregnancy": None,
            "conditions": _searchset(*({"resourceType": "Condition", "id": f"c{n}",
                                        "clinicalStatus": {"coding": [{"code": "active"}]},
                                        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                             "code": c}]}} for n, c in enumerate(conditions))),
            "medicationStatements": _searchset(*({"resourceType": "MedicationStatement", "id": f"m{n}", "status": s,
                                                  "medicationCodeableConcept": {"coding": [{
                                                      "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": str(1000 + n), "display": d}]}}
                                                 for n, (d, s) in enumerate(meds))),
            "medicationRequests": _searchset(),
        },
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _load(port: int, method: str, path: str, payloads: list[bytes], clients: int, per_client: int
          ) -> tuple[float, list[float], int]:
    """(requests/s, latencies in ms, errors) with ``clients`` threads each sending ``per_client`` requests."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    deadline = time.monotonic() + TIME_LIMIT_S
    start_gate = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        start_gate.wait()
        for k in range(per_client):
            if time.monotonic() > deadline:
                break
            data = payloads[(n * per_client + k) % len(payloads)] if payloads else None
            t0 = time.perf_counter()
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[n].append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                errors[n] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    flat = [x for per in latencies for x in per]
    return len(flat) / wall, flat, sum(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="requests per client")
    parser.add_argument("--bodies", type=int, default=64, help="distinct patient-view bodies cycled through")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    bodies = [body(i) for i in range(args.bodies)]
    payloads = [json.dumps(b).encode() for b in bodies]

    # reference 1: the same work in this process, no HTTP
    for b in bodies:
        evaluate(SERVICE, b)
    inproc = []
    for k in range(max(400, args.bodies)):
        t0 = time.perf_counter()
        evaluate(SERVICE, bodies[k % len(bodies)])
        inproc.append((time.perf_counter() - t0) * 1000)

    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mgdecision.batch", "serve", "--port", str(port), "--db",
               str(Path(tmp) / "bench.sqlite3"), "--log-level", "warning"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/cds-services")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the service did not start")
                time.sleep(0.1)
            _load(port, "POST", f"/cds-services/{SERVICE}", payloads, args.clients, 10)  # warm-up
            d_rps, d_lat, d_err = _load(port, "GET", "/cds-services", [], args.clients, args.requests)
            p_rps, p_lat, p_err = _load(port, "POST", f"/cds-services/{SERVICE}", payloads, args.clients, args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=15)

    p95 = _pct(p_lat, 95)
    print(f"mgdecision service benchmark: {args.clients} concurrent clients on 127.0.0.1, {os.cpu_count()} cores, "
          f"knowledge {mg.KNOWLEDGE_VERSION}, {len(payloads)} distinct bodies of ~{len(payloads[0]) // 1000} kB; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine)")
    print(f"{'measure':<44}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    print(f"{'reference: in-process read + assess + cards':<44}{1000 / statistics.mean(inproc):>9.0f}"
          f"{_pct(inproc, 50):>9.2f}{_pct(inproc, 95):>9.2f}{_pct(inproc, 99):>9.2f}{0:>8}")
    print(f"{'reference: GET /cds-services (discovery)':<44}{d_rps:>9.0f}{_pct(d_lat, 50):>9.2f}"
          f"{_pct(d_lat, 95):>9.2f}{_pct(d_lat, 99):>9.2f}{d_err:>8}")
    print(f"{'POST patient-view':<44}{p_rps:>9.0f}{_pct(p_lat, 50):>9.2f}{p95:>9.2f}{_pct(p_lat, 99):>9.2f}{p_err:>8}")
    print(f"goal p95 < {GOAL_P95_MS:.0f} ms: p95 {p95:.1f} ms = {p95 / GOAL_P95_MS:.2f} x the goal "
          f"({'met' if p95 < GOAL_P95_MS else 'NOT met'}); patient-view p95 = {p95 / _pct(d_lat, 95):.1f} x discovery "
          f"p95; server time per request ~ {1000 / p_rps:.2f} ms vs {statistics.mean(inproc):.2f} ms in-process")


if __name__ == "__main__":
    main()
