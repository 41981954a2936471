"""Widget timings: value change -> updated cards (target < 30 ms), loading a 5,000-row cohort, and the app's
start-up (``mgdecision app`` until it answers, then a browser visit until the first card; needs chromium).

    .venv/bin/python benchmarks/bench_widgets.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pandas as pd

import mgdecision as mg
from mgdecision.widgets import CohortTable, PatientForm
from mgdecision.widgets.app import DEMO_PATIENTS


def change_to_cards(n: int = 200) -> list[float]:
    """ms from setting one input's value to the new cards being in ``form.cards.value``."""
    form = PatientForm({"age": 60, "sex": "F", "serum_mg": "0.7 mmol/L", "medications": "omeprazole; furosemide",
                        "diagnoses": "E11.9; I10", "symptoms": "cramps"})
    egfr = form.inputs["egfr"].text
    times = []
    for i in range(n):
        before = form.cards.value
        t = time.perf_counter()
        egfr.value = f"{20 + (i % 2) * 60 + i / 1000:.3f}"  # new each time; alternates CONTRAINDICATED / none
        times.append((time.perf_counter() - t) * 1000)
        assert form.cards.value != before
    return times


def tag_to_cards(names: list[str]) -> list[float]:
    """ms from adding one tag (Enter in the entry box) to the new cards; the tag is then removed."""
    form = PatientForm({"age": 60})
    entry, tags = form.inputs["medications"].entry, form.inputs["medications"].tags
    times = []
    for name in names:
        t = time.perf_counter()
        entry.value = name
        times.append((time.perf_counter() - t) * 1000)
        tags.value = []
    return times


def cohort(rows: int = 5000) -> dict[str, float]:
    df = pd.concat([DEMO_PATIENTS] * (rows // len(DEMO_PATIENTS) + 1), ignore_index=True).iloc[:rows]
    df["patient_id"] = [f"P-{i:05d}" for i in range(rows)]
    t = time.perf_counter()
    table = CohortTable(df)
    total = time.perf_counter() - t
    t = time.perf_counter()
    table.refresh()
    render = time.perf_counter() - t
    table.table.selected_rows = [1234]
    t = time.perf_counter()
    table.form.inputs["egfr"].text.value = "25"
    table.form.save()
    save = time.perf_counter() - t
    size = len(table.table._dt_args["data_json"])
    return {"load_and_render_s": total, "render_only_s": render, "save_one_row_s": save, "json_mb": size / 1e6}


def app_startup() -> dict[str, float] | None:
    """Seconds: ``mgdecision app`` start until it answers; then page load until the first card, for the first
    visitor (the preheated kernel), a second visitor right after (the pool still refilling) and ?theme=dark
    (another theme than the preheated page: rendered on demand). None without chromium."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.widgets.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_app, stop, wait_http

    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    port = free_port()
    t = time.perf_counter()
    proc = start_app(port)
    out: dict[str, float] = {}
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, 120, proc)
        out["server_s"] = time.perf_counter() - t
        time.sleep(15)  # the preheated kernel runs the app notebook in the background
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, query in (("first_visit_s", ""), ("second_visit_s", ""), ("other_theme_s", "?theme=dark")):
                page = browser.new_page()
                t = time.perf_counter()
                page.goto(url + query)
                page.locator(".mg-flags .mg-card").first.wait_for(timeout=120_000)
                out[name] = time.perf_counter() - t
                page.close()
            browser.close()
    finally:
        stop(proc)
    return out


def main() -> None:
    known = sorted(mg.knowledge().drug_names)[:150]
    unknown = [f"zz unknown drug {i}" for i in range(25)] + [f"omeprazol{i}x" for i in range(25)]  # near misses too
    for name, times in (("value change -> cards", change_to_cards()),
                        ("known drug tag added -> cards", tag_to_cards(known)),
                        ("unrecognised tag added -> cards", tag_to_cards(unknown))):
        times.sort()
        print(f"{name}: median {statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95)]:.2f} ms, "
              f"max {times[-1]:.2f} ms (target < 30 ms)")
    c = cohort()
    print(f"5,000-row cohort: load + assess + render {c['load_and_render_s']:.2f} s; table render alone "
          f"{c['render_only_s']:.2f} s; save one row (re-assess + redraw) {c['save_one_row_s']:.2f} s; "
          f"table data sent to the browser {c['json_mb']:.1f} MB")
    a = app_startup()
    if a is None:
        print("app start-up: not measured (no chromium)")
    else:
        print(f"app start-up: server answers after {a['server_s']:.1f} s; first card after {a['first_visit_s']:.1f} s "
              f"(preheated kernel), {a['second_visit_s']:.1f} s for a second visitor right after, "
              f"{a['other_theme_s']:.1f} s for ?theme=dark (not preheated)")


if __name__ == "__main__":
    main()
