"""The app in a real browser: Voila on 127.0.0.1 (``mgdecision app``), Debian's chromium via Playwright.

Every request the page makes is routed: one to another machine is aborted and fails the test (the app
must work offline). Screenshots go to artifacts/ (form_<theme>.png, cohort_<theme>.png, phone_<theme>.png).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

import mgdecision as mg
from mgdecision import outputs
from mgdecision.palette import INDICATORS, LEVELS, SEVERITIES
from mgdecision.render import WORDS
from mgdecision.widgets.inputs import SerumInput

from .conftest import SAMPLES

pytestmark = pytest.mark.browser
THEMES = ["light", "dark"]
LOAD = 60_000
LOCAL = ("127.0.0.1", "localhost")


def rgb(hex_colour: str) -> str:
    """``#D55E00`` -> ``rgb(213, 94, 0)``, as the browser reports a computed colour."""
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))


class Offline:
    """Routes every request of a page: local ones go through, others are aborted and recorded."""

    def __init__(self, page: Page) -> None:
        self.blocked: list[str] = []
        page.route("**/*", self._route)
        page.on("websocket", lambda ws: self._check(ws.url))

    def _check(self, url: str) -> bool:
        parsed = urlparse(url)
        local = parsed.scheme in ("data", "blob") or parsed.hostname in LOCAL
        if not local:
            self.blocked.append(url)
        return local

    def _route(self, route: Route) -> None:
        if self._check(route.request.url):
            route.continue_()
        else:
            route.abort()


@pytest.fixture
def offline(page: Page) -> Iterator[Offline]:
    guard = Offline(page)
    yield guard
    assert guard.blocked == [], f"requests left this machine: {guard.blocked}"


def open_app(page: Page, url: str, theme: str) -> Locator:
    page.goto(f"{url}?theme={theme}")
    form = page.locator(".mg-app-form")
    expect(form.get_by_label("Serum Mg")).to_be_visible(timeout=LOAD)
    expect(form.locator(".mg-flags .mg-empty")).to_be_visible(timeout=LOAD)  # no cards before any input
    expect(form.locator(".mg-flags .mg-card")).to_have_count(0)
    return form


def add_tag(scope: Locator, field: str, text: str) -> None:
    entry = scope.locator(f".mg-in-{field} input")
    entry.fill(text)
    entry.press("Enter")
    expect(scope.locator(f".mg-tags-{field}")).to_contain_text(text)
    expect(entry).to_have_value("")


@pytest.mark.parametrize("theme", THEMES)
def test_patient_form(page: Page, app_url: str, theme: str, artifacts: Path, offline: Offline) -> None:
    form = open_app(page, app_url, theme)
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false" if theme == "dark" else "true")
    cards = form.locator(".mg-flags")
    unit = form.locator(".mg-in-serum_mg_unit select")
    expect(unit).to_have_value(SerumInput.NO_UNIT)  # no default unit
    age = form.get_by_label("Age (years)")
    age.fill("52")
    expect(form.locator(".mg-flags .mg-card").first).to_be_visible(timeout=LOAD)
    form.locator(".mg-in-sex select").select_option(label="female")
    serum = form.get_by_label("Serum Mg")
    serum.fill("0.9")
    serum.press("Tab")
    expect(form.locator(".mg-error-serum_mg")).to_contain_text("has no unit")  # the core's unit_missing
    core = mg.assess({"age": "52", "sex": "F", "serum_mg": "0.9"})  # the value as typed, no unit assumed
    assert "unit_missing" in {str(p.code) for p in core.problems}
    for card in core.cards:
        expect(cards).to_contain_text(card.summary[:60])
    expect(cards.locator(".mg-card").first).to_contain_text("input problem")
    unit.select_option("mg/dL")
    expect(cards).to_contain_text("serum 0.9 mg/dL below the lower limit")
    expect(form.locator(".mg-error-serum_mg")).to_have_text("")
    add_tag(form, "medications", "Prilosec")
    expect(cards).to_contain_text("omeprazole (Prilosec)")
    add_tag(form, "medications", "zzzdrug")
    expect(form.locator(".mg-error-medications")).to_contain_text("'zzzdrug' not recognised")
    add_tag(form, "diagnoses", "myasthenia gravis")
    critical = cards.locator('[data-indicator="critical"][data-topic="contraindication"]')
    expect(critical).to_contain_text("Do not give magnesium: myasthenia gravis")
    expect(cards.locator(".mg-card").first).to_contain_text("Do not give magnesium")  # the decision first
    badge = critical.locator(".mg-badge")
    expect(badge).to_have_text(WORDS["critical"])
    expect(badge).to_have_css("background-color", rgb(INDICATORS["critical"].fill))  # the one palette
    expect(badge).to_have_css("color", rgb(INDICATORS["critical"].text))
    expect(cards).not_to_contain_text("<strong>")
    expect(cards).not_to_contain_text("**")
    # validation: shown next to the field, the value stays as typed
    egfr = form.get_by_label("eGFR / CrCl (mL/min)")
    egfr.fill("250")
    expect(form.locator(".mg-error-egfr")).to_contain_text("outside")
    expect(egfr).to_have_value("250")
    # pregnancy is disabled for a male patient
    form.locator(".mg-in-sex select").select_option(label="male")
    expect(form.get_by_label("Pregnant")).to_be_disabled()
    expect(form.get_by_label("Lactating")).to_be_disabled()
    cards.locator("details summary").first.click()
    page.locator(".mg-app").screenshot(path=str(artifacts / f"form_{theme}.png"))
    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(path=str(artifacts / f"form_1366_{theme}.png"))
    # Clear form: every field and the unit are empty again, and no card is left
    form.get_by_role("button", name="Clear form").click()
    expect(unit).to_have_value(SerumInput.NO_UNIT)
    expect(serum).to_have_value("")
    expect(form.locator(".mg-flags .mg-card")).to_have_count(0)


def test_the_app_shows_only_the_app(page: Page, app_url: str, offline: Offline) -> None:
    open_app(page, app_url, "light")
    expect(page.locator("#rendered_cells .jp-OutputArea-output")).to_have_count(1)
    expect(page.locator("#rendered_cells .jp-InputArea")).to_have_count(0)  # no code
    body = page.locator("#rendered_cells")
    for leftover in ("The same in Python", "import mgdecision", "DataFrame", "Many patients"):
        expect(body).not_to_contain_text(leftover)
    expect(page.locator("#rendered_cells .jp-RenderedJSON, #rendered_cells .jp-RenderedHTMLCommon table")) \
        .to_have_count(0)
    expect(page).to_have_title("Magnesium decision support")


def upload_sample(page: Page, cohort: Locator) -> Locator:
    workbook = SAMPLES / "ms_clinic.xlsx"
    if not workbook.exists():
        pytest.skip("sample workbooks not generated yet")
    table = cohort.locator(".mg-table")
    expect(table).to_contain_text("DEMO-1", timeout=LOAD)
    with page.expect_file_chooser() as chooser:
        cohort.locator(".mg-upload").click()
    chooser.value.set_files(workbook)
    expect(cohort.locator(".mg-table-message")).to_contain_text("60 patient(s) loaded from ms_clinic.xlsx",
                                                                 timeout=LOAD)
    return table


@pytest.mark.parametrize("theme", THEMES)
def test_cohort_upload_select_save(page: Page, app_url: str, theme: str, artifacts: Path,
                                   offline: Offline) -> None:
    open_app(page, app_url, theme)
    page.get_by_role("tab", name="Cohort").click()
    cohort = page.locator(".mg-cohort")
    table = upload_sample(page, cohort)
    expect(table).to_contain_text("MS-0001")
    # compact rows: ten rows fit in a screen
    first = table.locator("tbody tr").first
    assert first.bounding_box()["height"] < 80
    # search, then select a row: it opens in the form
    table.get_by_role("searchbox").fill("MS-0003")
    row = table.locator("tbody tr", has_text="MS-0003")
    expect(row).to_have_count(1)
    row.locator("td").nth(1).click()
    expect(cohort.locator(".mg-editing")).to_contain_text("patient MS-0003", timeout=LOAD)
    form = cohort.locator(".mg-patient-form")
    expect(form.get_by_label("Patient ID")).to_have_value("MS-0003")
    expect(form.locator(".mg-flags")).to_contain_text("Deficiency risk")
    # edit and save: that row is re-assessed and still shown, the search kept
    egfr = form.get_by_label("eGFR / CrCl (mL/min)")
    egfr.fill("20")
    egfr.press("Tab")
    expect(form.locator('.mg-flags [data-topic="contraindication"]')).to_contain_text(
        "Do not give magnesium: severe renal impairment")
    form.get_by_role("button", name="Save patient").click()
    expect(cohort.locator(".mg-table-message")).to_contain_text("saved and re-assessed")
    expect(table.get_by_role("searchbox")).to_have_value("MS-0003")
    cell = table.locator("tbody tr", has_text="MS-0003").locator(".mg-flag", has_text="Contraindicated")
    expect(cell).to_be_visible()
    expect(cell).to_have_css("background-color", rgb(LEVELS["CONTRAINDICATED"].fill))
    page.locator(".mg-app").screenshot(path=str(artifacts / f"cohort_{theme}.png"))


def test_save_keeps_page_and_search(page: Page, app_url: str, offline: Offline) -> None:
    open_app(page, app_url, "light")
    page.get_by_role("tab", name="Cohort").click()
    cohort = page.locator(".mg-cohort")
    table = upload_sample(page, cohort)
    search = table.get_by_role("searchbox")
    search.fill("MS-00")  # every patient id: a search that leaves more than one page
    info = table.locator(".dt-info")
    table.locator(".dt-paging").get_by_role("link", name="2").click()
    expect(info).to_contain_text("Showing 11 to 20")
    row = table.locator("tbody tr").nth(2)
    ident = row.locator("td").nth(1).inner_text()
    row.locator("td").nth(1).click()
    form = cohort.locator(".mg-patient-form")
    expect(form.get_by_label("Patient ID")).to_have_value(ident, timeout=LOAD)
    age = form.get_by_label("Age (years)")
    age.fill("71")
    age.press("Tab")
    form.get_by_role("button", name="Save patient").click()
    expect(cohort.locator(".mg-table-message")).to_contain_text("saved and re-assessed")
    expect(search).to_have_value("MS-00")
    expect(info).to_contain_text("Showing 11 to 20")  # still page 2 of the same search
    expect(table.locator("tbody tr.selected")).to_contain_text(ident)


def test_one_palette_in_the_table(page: Page, app_url: str, offline: Offline) -> None:
    batch_sheets = pytest.importorskip("mgdecision.batch.sheets")
    open_app(page, app_url, "light")
    page.get_by_role("tab", name="Cohort").click()
    table = page.locator(".mg-cohort .mg-table")
    expect(table).to_contain_text("DEMO-1", timeout=LOAD)
    flags = table.locator(".mg-flag")
    seen = set()
    words = {label: word for word, label in outputs.VALUE_LABELS.items()}
    for i in range(flags.count()):
        word = words.get(flags.nth(i).inner_text().strip())
        if word in LEVELS:
            seen.add(word)
            expect(flags.nth(i)).to_have_css("background-color", rgb(LEVELS[word].fill))
            expect(flags.nth(i)).to_have_css("color", rgb(LEVELS[word].text))
            assert rgb(batch_sheets.LEVEL_FILLS[word]) == rgb(LEVELS[word].fill)  # the batch/Excel fill too
    assert "CONTRAINDICATED" in seen and len(seen) >= 3
    pill = table.locator('.mg-pill[data-severity="moderate"]').first  # DEMO-2: levothyroxine
    expect(pill).to_contain_text("(moderate)")
    expect(pill).to_have_css("background-color", rgb(SEVERITIES["moderate"].fill))


def test_export_is_one_click(page: Page, app_url: str, offline: Offline, tmp_path: Path) -> None:
    open_app(page, app_url, "light")
    page.get_by_role("tab", name="Cohort").click()
    cohort = page.locator(".mg-cohort")
    expect(cohort.locator(".mg-table")).to_contain_text("DEMO-1", timeout=LOAD)
    button = cohort.get_by_role("button", name="Export .xlsx")
    expect(button).to_have_css("background-color", re.compile(r"rgb\((?!239, 239, 239)"))  # a real button look
    with page.expect_download(timeout=LOAD) as download:
        button.click()
    assert download.value.suggested_filename == "mg_flags.xlsx"
    path = tmp_path / "mg_flags.xlsx"
    download.value.save_as(path)
    with zipfile.ZipFile(path) as z:
        assert "xl/workbook.xml" in z.namelist()


@pytest.mark.parametrize("theme", THEMES)
def test_phone_width(browser: Browser, app_url: str, theme: str, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    guard = Offline(page)
    try:
        form = open_app(page, app_url, theme)
        results, first_field = form.locator(".mg-form-results"), form.get_by_label("Patient ID")
        assert results.bounding_box()["y"] < first_field.bounding_box()["y"]  # the results come first
        page.screenshot(path=str(artifacts / f"phone_empty_{theme}.png"))
        serum = form.get_by_label("Serum Mg")
        unit = form.locator(".mg-in-serum_mg_unit select")
        serum.fill("0.62")
        unit.select_option("mmol/L")
        expect(form.locator(".mg-flags")).to_contain_text("0.62 mmol/L")
        add_tag(form, "medications", "omeprazole")
        page.mouse.wheel(0, 900)  # far down the fields: the results stay pinned in view
        page.wait_for_timeout(300)
        box = results.bounding_box()
        assert 0 <= box["y"] <= 20 and box["height"] <= 844 * 0.5, box
        assert results.evaluate("e => e.scrollHeight > e.clientHeight && getComputedStyle(e).overflowY") == "auto"
        page.screenshot(path=str(artifacts / f"phone_{theme}.png"))
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / f"phone_full_{theme}.png"), full_page=True)
        assert serum.bounding_box()["width"] >= 200  # not a 20 px box
        box = unit.bounding_box()
        assert box["x"] + box["width"] <= 390
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width} px wide"
        page.get_by_role("tab", name="Cohort").click()
        cohort = page.locator(".mg-cohort")
        expect(cohort.locator(".mg-table")).to_contain_text("DEMO-1", timeout=LOAD)
        export = cohort.get_by_role("button", name="Export .xlsx").bounding_box()
        assert export["x"] + export["width"] <= 390  # the toolbar wraps instead of running off the screen
        page.screenshot(path=str(artifacts / f"phone_cohort_{theme}.png"))
        cohort.locator(".mg-table tbody tr", has_text="DEMO-3").locator("td").nth(1).click()
        editing = cohort.locator(".mg-editing")
        expect(editing).to_contain_text("DEMO-3", timeout=LOAD)
        page.wait_for_timeout(1200)  # the smooth scroll
        top = editing.bounding_box()["y"]
        assert -2 <= top < 844 / 2, top  # the clicked row's form is brought into view
        page.screenshot(path=str(artifacts / f"phone_cohort_row_{theme}.png"))
        assert guard.blocked == []
    finally:
        context.close()


@pytest.mark.parametrize("theme", THEMES)
def test_wide_screen_cohort(browser: Browser, app_url: str, theme: str, artifacts: Path, tmp_path: Path) -> None:
    """1366 px: add a row at once, delete with undo, a semicolon CSV upload, severity pills."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    guard = Offline(page)
    try:
        open_app(page, app_url, theme)
        page.screenshot(path=str(artifacts / f"app_1366_{theme}.png"))
        page.get_by_role("tab", name="Cohort").click()
        cohort = page.locator(".mg-cohort")
        table = cohort.locator(".mg-table")
        expect(table).to_contain_text("DEMO-1", timeout=LOAD)
        cohort.get_by_role("button", name="Add patient").click()
        expect(table.locator("tbody tr")).to_have_count(4, timeout=LOAD)
        expect(cohort.locator(".mg-editing")).to_contain_text("New patient on spreadsheet row 5")
        table.locator("tbody tr").nth(1).locator("td").nth(1).click()
        expect(cohort.locator(".mg-editing")).to_contain_text("DEMO-2", timeout=LOAD)
        cohort.get_by_role("button", name="Delete selected").click()
        expect(table.locator("tbody tr")).to_have_count(3, timeout=LOAD)
        expect(table).not_to_contain_text("DEMO-2")
        cohort.get_by_role("button", name="Undo delete").click()
        expect(table).to_contain_text("DEMO-2", timeout=LOAD)
        expect(table.locator("tbody tr")).to_have_count(4)
        csv = tmp_path / "export.csv"
        csv.write_text("Patienten-ID;Alter;Geschlecht;Magnesium (mmol/L);Diagnosen;Medikamente\n"
                       "K-1;45;M;0,80;Myasthenia gravis;pyridostigmine\nK-2;70;F;0.62;;levothyroxine\n",
                       encoding="utf-8")
        with page.expect_file_chooser() as chooser:
            cohort.locator(".mg-upload").click()
        chooser.value.set_files(csv)
        expect(cohort.locator(".mg-table-message")).to_contain_text("2 patient(s) loaded from export.csv",
                                                                    timeout=LOAD)
        row = table.locator("tbody tr", has_text="K-1")
        expect(row.locator(".mg-flag", has_text="Contraindicated")).to_be_visible()
        pill = table.locator("tbody tr", has_text="K-2").locator('.mg-pill[data-severity="moderate"]')
        expect(pill).to_contain_text("levothyroxine (moderate)")
        expect(pill).to_have_css("background-color", rgb(SEVERITIES["moderate"].fill))
        page.screenshot(path=str(artifacts / f"cohort_1366_{theme}.png"))
        assert guard.blocked == []
    finally:
        context.close()


def test_no_warnings_on_start(page: Page, app_url: str, artifacts: Path, offline: Offline) -> None:
    """No JupyterLab version warnings in the browser console, no "not trusted" line in the server log."""
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
    form = open_app(page, app_url, "light")
    form.get_by_label("Age (years)").fill("60")
    expect(form.locator(".mg-flags .mg-card").first).to_be_visible(timeout=LOAD)
    page.get_by_role("tab", name="Cohort").click()
    expect(page.locator(".mg-cohort .mg-table")).to_contain_text("DEMO-1", timeout=LOAD)
    assert [m for m in messages if "version" in m.lower() or "error" in m.lower()] == [], messages
    port = urlparse(app_url).port
    logs = (artifacts / f"voila-{port}.log").read_text(errors="replace")  # this session's server
    assert "is running at" in logs and "not trusted" not in logs


def test_knowledge_version_is_shown(page: Page, app_url: str, offline: Offline) -> None:
    open_app(page, app_url, "light")
    expect(page.locator(".mg-meta").last).to_contain_text(mg.KNOWLEDGE_VERSION)
