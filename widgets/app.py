"""The app: one patient and a cohort in two tabs; ``mgdecision app`` serves it with Voila (no code shown).

    mgdecision app                      # http://127.0.0.1:8866, opens a browser
    mgdecision app --port 9000 --no-browser --theme dark

Voila serves ``app.ipynb`` (the app and nothing else) with the ``mgapp`` template (Voila's lab template
minus its CDN icon-font links: the page asks nothing of other machines) and keeps one kernel preheated,
so a visitor gets a running app without waiting for a kernel to start. What the first screen does not show
is built when first asked for: the Cohort tab when it is opened. This module imports neither ipywidgets nor
the widgets until the app is built, so the server starts without them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ipywidgets as w
    import pandas as pd

__all__ = ["DEMO_ROWS", "EXAMPLE", "NOTEBOOK", "TEMPLATE_ROOT", "build_app", "main", "voila_args"]

NOTEBOOK = Path(__file__).with_name("app.ipynb")  # what the app serves: the app only
EXAMPLE = Path(__file__).with_name("example.ipynb")  # the notebook for JupyterLab, with Python examples
TEMPLATE_ROOT = Path(__file__).with_name("share")  # a Jupyter data dir holding voila/templates/mgapp

DEMO_ROWS: tuple[dict[str, Any], ...] = (
    {"patient_id": "DEMO-1", "age": 52, "sex": "F", "serum_mg": 0.62, "serum_mg_unit": "mmol/L", "egfr": 85,
     "medications": "omeprazole; furosemide", "symptoms": "cramps", "supplement_form": "glycinate",
     "supplement_dose_mg": 200},
    {"patient_id": "DEMO-2", "age": 71, "sex": "M", "serum_mg": 1.9, "serum_mg_unit": "mg/dL", "egfr": 24,
     "diagnoses": "N18.4", "medications": "levothyroxine"},
    {"patient_id": "DEMO-3", "age": 34, "sex": "F", "pregnant": "yes", "serum_mg": 0.78, "serum_mg_unit": "mmol/L",
     "egfr": 110, "diagnoses": "myasthenia gravis", "medications": "pyridostigmine"},
)
COHORT_TAB = 1


def __getattr__(name: str) -> Any:  # DEMO_PATIENTS: a DataFrame made when first asked for (pandas on demand)
    if name == "DEMO_PATIENTS":
        import pandas as pd

        return pd.DataFrame(list(DEMO_ROWS))
    raise AttributeError(name)


def build_app(cohort: pd.DataFrame | None = None) -> w.Widget:
    """The two-tab app: "One patient" (a PatientForm) and "Cohort" (a CohortTable of ``cohort``, or the demo
    patients), the cohort built when its tab is first opened."""
    import ipywidgets as w
    import pandas as pd

    import mgdecision as mg

    from .form import PatientForm

    form = PatientForm()
    form.add_class("mg-app-form")
    placeholder = w.HTML('<p class="mg-meta">Opening the cohort table...</p>')
    header = w.HTML('<h1 class="mg-title">Magnesium decision support</h1><p class="mg-meta">These flags support '
                    "and do not replace clinical judgement.</p>")
    version = w.HTML(f'<p class="mg-meta">mgdecision {mg.__version__} · knowledge {mg.KNOWLEDGE_VERSION}</p>')
    tabs = w.Tab([form, w.VBox([placeholder])], titles=("One patient", "Cohort"))
    tabs.add_class("mg-app")

    def open_cohort(change: dict[str, Any]) -> None:
        if change["new"] != COHORT_TAB or tabs.children[COHORT_TAB].children[:1] != (placeholder,):
            return
        from .cohort import CohortTable

        table = CohortTable(pd.DataFrame(list(DEMO_ROWS)) if cohort is None else cohort)
        tabs.children[COHORT_TAB].children = (table,)

    tabs.observe(open_cohort, "selected_index")
    root = w.VBox([header, tabs, version], layout=w.Layout(width="100%"))
    root.add_class("mg-root")
    return root


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mgdecision app", description="Serve the mgdecision app (Voila, no code cells) on this machine.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mgdecision app                          # http://127.0.0.1:8866, opens a browser\n"
               "  mgdecision app --port 9000 --no-browser # on a server: open http://127.0.0.1:9000 yourself\n"
               "  mgdecision app --theme dark\n\n"
               "The flags support and do not replace clinical judgement.")
    p.add_argument("--port", type=int, default=8866, help="port to listen on (default 8866), e.g. --port 9000")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only); e.g. --ip 0.0.0.0 for every "
                        "network interface, behind a proxy with authentication")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser (e.g. on a server)")
    p.add_argument("--theme", choices=("light", "dark"), default="light",
                   help="JupyterLab theme (default light); a visitor may still add ?theme=dark to the address")
    return p


def voila_args(argv: list[str]) -> list[str]:
    """The Voila command-line arguments for ``mgdecision app`` arguments."""
    args = _parser().parse_args(argv)
    out = [str(NOTEBOOK), "--strip_sources=True", f"--port={args.port}", f"--Voila.ip={args.ip}",
           f"--theme={args.theme}", "--template=mgapp", "--preheat_kernel=True", "--pool_size=1"]
    if args.no_browser:
        out.append("--no-browser")
    return out


class _AppOnlyNotebook(logging.Filter):
    """Drops "Notebook app.ipynb is not trusted": the app notebook holds no stored output to trust (every
    output is made live by the kernel), so the warning only alarms whoever starts the app."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.getMessage().endswith("is not trusted") and NOTEBOOK.name in record.getMessage())


def main(argv: list[str]) -> int:
    """``mgdecision app``: serve the app notebook until interrupted. Returns the exit code."""
    args = voila_args(argv)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, (str(TEMPLATE_ROOT), os.environ.get("JUPYTER_PATH"))))
    from voila.app import Voila

    app = Voila.instance()
    try:
        app.initialize(args)
        app.log.addFilter(_AppOnlyNotebook())
        app.start()
    except KeyboardInterrupt:
        pass
    finally:
        Voila.clear_instance()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
