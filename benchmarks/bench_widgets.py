"""Widget timings: value change -> updated cards (target < 30 ms), loading a 5,000-row cohort, and the app's
start-up against its floor measured in the same run (needs chromium): from starting the server to the first
screen in a browser that opens the page as soon as the server answers, for ``mgdecision app`` and for bare
Voila serving a one-widget notebook with the same flags (template, preheated kernel); goal within 1.2x.

    .venv/bin/python benchmarks/bench_widgets.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

import mgdecision as mg
from mgdecision.widgets import CohortTable, PatientForm
from mgdecision.widgets.app import DEMO_ROWS


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
    demo = pd.DataFrame(list(DEMO_ROWS))
    df = pd.concat([demo] * (rows // len(demo) + 1), ignore_index=True).iloc[:rows]
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


def _visit(cmd: list[str], selector: str, env: dict[str, str], type_age: bool = False) -> dict[str, float]:
    """Seconds from starting ``cmd`` (a Voila server) until ``selector`` shows in chromium, the page opened as soon
    as the server answers; with ``type_age``, also until the first flag card after typing an age."""
    import os
    import subprocess

    from playwright.sync_api import sync_playwright

    from tests.widgets.conftest import CHROMIUM, CHROMIUM_ARGS, stop, wait_http

    port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else int(next(a.split("=")[1] for a in cmd
                                                                                if a.startswith("--port=")))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env},
                                cwd=Path(__file__).resolve().parents[1])
        out: dict[str, float] = {}
        try:
            wait_http(f"http://127.0.0.1:{port}/", 120, proc)
            out["server_s"] = time.perf_counter() - t
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator(selector).first.wait_for(timeout=120_000)
            out["shown_s"] = time.perf_counter() - t
            if type_age:
                page.locator(".mg-app-form .mg-in-age input").fill("60")
                page.locator(".mg-app-form .mg-flags .mg-card").first.wait_for(timeout=60_000)
                out["card_s"] = time.perf_counter() - t
        finally:
            browser.close()
            stop(proc)
    return out


def app_startup(repeat: int = 3) -> list[tuple[dict[str, float], dict[str, float]]] | None:
    """(app, floor) timings per round, alternating: ``mgdecision app`` until its results panel shows (and the
    first card after typing an age), and bare Voila serving a one-widget notebook with the same flags, template
    and preheated kernel until that widget shows. None without chromium."""
    import os
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from mgdecision.widgets.app import TEMPLATE_ROOT, voila_args
    from tests.widgets.conftest import CHROMIUM, free_port

    if not Path(CHROMIUM).exists():
        return None
    env = {"JUPYTER_PATH": os.pathsep.join(filter(None, (str(TEMPLATE_ROOT), os.environ.get("JUPYTER_PATH"))))}
    app_code = "import sys; from mgdecision.widgets.app import main; sys.exit(main(sys.argv[1:]))"
    rounds = []
    with tempfile.TemporaryDirectory() as folder:
        floor_nb = Path(folder) / "floor.ipynb"
        floor_nb.write_text(json.dumps({
            "cells": [{"cell_type": "code", "execution_count": None, "id": "floor", "metadata": {}, "outputs": [],
                       "source": ["import ipywidgets as w\n", "w.HTML('<div class=\"floor-ready\">ready</div>')"]}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}))
        for _ in range(repeat):
            port = free_port()
            app = _visit([sys.executable, "-c", app_code, "--port", str(port), "--no-browser"],
                         ".mg-app-form .mg-flags .mg-empty", env, type_age=True)
            port = free_port()
            args = voila_args(["--port", str(port), "--no-browser"])
            args[0] = str(floor_nb)
            floor = _visit([sys.executable, "-m", "voila", *args], ".floor-ready", env)
            rounds.append((app, floor))
    return rounds


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
    rounds = app_startup()
    if rounds is None:
        print("app start-up: not measured (no chromium)")
        return
    for k, (app, floor) in enumerate(rounds, start=1):
        print(f"round {k}: mgdecision app: server answers {app['server_s']:.2f} s, results panel shown "
              f"{app['shown_s']:.2f} s, first card after typing an age {app['card_s']:.2f} s; floor (bare Voila, "
              f"one widget, same flags): server {floor['server_s']:.2f} s, widget shown {floor['shown_s']:.2f} s")
    app_s = statistics.median(a["shown_s"] for a, _ in rounds)
    floor_s = statistics.median(f["shown_s"] for _, f in rounds)
    card_s = statistics.median(a["card_s"] for a, _ in rounds)
    print(f"start to first screen (median of {len(rounds)}): app {app_s:.2f} s vs floor {floor_s:.2f} s = "
          f"{app_s / floor_s:.2f}x (goal within 1.2x); start to first card {card_s:.2f} s = {card_s / floor_s:.2f}x")


if __name__ == "__main__":
    main()
