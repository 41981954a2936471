"""The example notebook runs top to bottom; ``mgdecision app`` serves the app notebook with Voila (no code shown).

These tests need no browser and create no folders: they must pass on a fresh clone without chromium.
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request

import nbclient
import nbformat
import pytest

from mgdecision.widgets.app import EXAMPLE, NOTEBOOK, voila_args

from .conftest import free_port, start_app, stop, wait_http


@pytest.mark.slow
def test_example_notebook_executes_cleanly() -> None:
    nb = nbformat.read(EXAMPLE, as_version=4)
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
    assert args[0].endswith("app.ipynb") and "--strip_sources=True" in args
    assert {"--port=9001", "--no-browser", "--theme=dark", "--Voila.ip=127.0.0.1"} <= set(args)
    assert {"--template=mgapp", "--preheat_kernel=True", "--pool_size=1"} <= set(args)
    assert "--no-browser" not in voila_args([])


def test_the_app_notebook_holds_the_app_only() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["code"]  # no markdown, no examples, no other patient's result
    assert nb.cells[0].source.strip().endswith("build_app()") and not nb.cells[0].get("outputs")


@pytest.mark.slow
def test_mgdecision_app_serves_the_notebook_without_code() -> None:
    port = free_port()
    proc = start_app(port)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/", 90, proc) == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as r:
            page = r.read().decode()
        assert "<title>Magnesium decision support</title>" in page
        assert "build_app" not in page  # code cells stripped
        assert "cdn.jsdelivr.net" not in page and "https://" not in page.split("</head>")[0]  # nothing off-machine
    finally:
        stop(proc)
    assert proc.returncode is not None


@pytest.mark.slow
def test_jupyterlab_is_installed_with_the_widget_extensions() -> None:
    """The example notebook's widgets render in JupyterLab: the lab extra brings JupyterLab, and the widget
    manager and anywidget (itables' table, the export button) are enabled there."""
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True,
                         timeout=120, check=True)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)  # without colour codes
    for extension in ("@jupyter-widgets/jupyterlab-manager", "anywidget"):
        assert re.search(re.escape(extension) + r"\S* v\S+ enabled", listing), (extension, listing)
