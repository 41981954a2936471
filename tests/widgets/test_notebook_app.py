"""The example notebook runs top to bottom; ``mgdecision app`` serves it with Voila (no code shown)."""

from __future__ import annotations

import urllib.request

import nbclient
import nbformat
import pytest

from mgdecision.widgets.app import NOTEBOOK, voila_args

from .conftest import free_port, start_app, stop, wait_http


@pytest.mark.slow
def test_example_notebook_executes_cleanly() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]
    assert "mg-card" in outputs[1]["data"]["text/html"]
    assert "CONTRAINDICATED" in outputs[2]["data"]["text/html"]


def test_voila_arguments() -> None:
    args = voila_args(["--port", "9001", "--no-browser", "--theme", "dark"])
    assert args[0].endswith("example.ipynb") and "--strip_sources=True" in args
    assert {"--port=9001", "--no-browser", "--theme=dark", "--Voila.ip=127.0.0.1"} <= set(args)
    assert "--no-browser" not in voila_args([])


@pytest.mark.slow
def test_mgdecision_app_serves_the_notebook_without_code() -> None:
    port = free_port()
    proc = start_app(port)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/", 90, proc) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as r:
            page = r.read().decode()
        assert "Magnesium decision support" in page
        assert "build_app" not in page  # code cells stripped
    finally:
        stop(proc)
    assert proc.returncode is not None
