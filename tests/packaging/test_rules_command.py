"""``mgdecision rules``: the rulebook on the screen or in a file, Markdown or HTML, with the core alone."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from mgdecision.batch.cli import build_parser, main
from mgdecision.rulebook import rulebook

from .test_extras import _without

# Every extra's libraries (distribution and module names): the command must run with none of them.
EXTRAS_LIBRARIES = ("openpyxl,defusedxml,xlsxwriter,python-calamine,python_calamine,pyarrow,tqdm,dask,distributed,"
                    "xlwings,ipywidgets,itables,anywidget,jinja2,voila,jupyterlab,fastapi,uvicorn,httpx,pyjwt,jwt")


def test_rules_prints_the_markdown_rulebook(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr()
    assert out.out == rulebook().markdown() and out.err == ""


def test_rules_writes_the_html_rulebook_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "rulebook.html"
    assert main(["rules", "--format", "html", "-o", str(target)]) == 0
    assert target.read_bytes() == rulebook().html().encode("utf-8")
    out = capsys.readouterr()
    assert out.out == "" and f"written to {target}" in out.err
    assert [p.name for p in tmp_path.iterdir()] == ["rulebook.html"]  # no temporary file left behind


def test_an_existing_file_is_replaced_only_with_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "rules.md"
    target.write_text("my notes", encoding="utf-8")
    assert main(["rules", "-o", str(target)]) == 2
    assert "already exists; use --force to replace it" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "my notes"
    assert main(["rules", "-o", str(target), "--force"]) == 0
    assert target.read_text(encoding="utf-8") == rulebook().markdown()


@pytest.mark.parametrize(("argv", "says"), [
    (["rules", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["rules", "--colour"], "unrecognized arguments: --colour"),
    (["rules", "-o"], "argument -o/--output: expected one argument"),
])
def test_a_bad_option_exits_2_with_the_usage_line(argv: list[str], says: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mgdecision") and says in err


@pytest.mark.parametrize("where", ["folder", "missing/rules.md"])
def test_an_output_that_cannot_be_a_file_exits_2(tmp_path: Path, where: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "-o", str(tmp_path if where == "folder" else tmp_path / where)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err if where == "folder" else "does not exist" in err


def test_rules_needs_no_extra(tmp_path: Path) -> None:
    code, out = _without(EXTRAS_LIBRARIES, "rules", "--format", "html", "-o", tmp_path / "rules.html")
    assert code == 0, out
    assert (tmp_path / "rules.html").read_text(encoding="utf-8") == rulebook().html()


def test_every_option_has_help_and_the_help_has_examples() -> None:
    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    parser = subparsers.choices["rules"]
    for action in parser._actions:
        if not isinstance(action, argparse._HelpAction):
            assert action.help and len(action.help) > 15, action.dest
    examples = parser.format_help().split("examples:", 1)[1]
    assert "mgdecision rules --format html -o" in examples
    assert "rules" in build_parser().format_help()


# Page content widths in CSS px (96 a inch) with the rulebook's 12 mm side margins: A4 and Letter.
PRINT_WIDTHS = {"A4": round((210 - 24) / 25.4 * 96), "Letter": round((215.9 - 24) / 25.4 * 96)}


@pytest.mark.browser
def test_the_html_rulebook_prints_at_its_own_size_and_fits_the_screen(tmp_path: Path) -> None:
    """Wider than the page, chromium would shrink every page to fit (text far below 8 pt): no table may be."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"chromium not found at {chromium}")
        pytest.skip(f"chromium not found at {chromium}")
    sync_api = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "rules.html"
    assert main(["rules", "--format", "html", "-o", str(page_file)]) == 0
    wider = """() => [...document.querySelectorAll('table')]
        .filter(t => t.getBoundingClientRect().width > document.body.clientWidth + 1).length"""
    with sync_api.sync_playwright() as play:
        browser = play.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, width in [*PRINT_WIDTHS.items(), ("screen", 1366)]:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.emulate_media(media="screen" if name == "screen" else "print")
                page.goto(page_file.as_uri())
                assert page.evaluate(wider) == 0, name
                assert page.evaluate("document.documentElement.scrollWidth") <= width, name
                if name != "screen":
                    sizes = page.evaluate("[...document.querySelectorAll('td')].map(e => getComputedStyle(e).fontSize)")
                    assert min(float(s.removesuffix("px")) for s in sizes) * 0.75 >= 8, name  # px to pt
        finally:
            browser.close()
