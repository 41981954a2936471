"""The app in a real browser: Voila on 127.0.0.1 (``mgdecision app``), Debian's chromium via Playwright.

Screenshots go to artifacts/ (form_<theme>.png, cohort_<theme>.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from mgdecision.render import WORDS

from .conftest import SAMPLES

pytestmark = pytest.mark.browser
THEMES = ["light", "dark"]
LOAD = 60_000


def open_app(page: Page, url: str, theme: str) -> Locator:
    page.goto(f"{url}?theme={theme}")
    form = page.locator(".mg-app-form")
    expect(form.get_by_label("Serum Mg")).to_be_visible(timeout=LOAD)
    return form


def add_tag(scope: Locator, field: str, text: str) -> None:
    entry = scope.locator(f".mg-in-{field} input")
    entry.fill(text)
    entry.press("Enter")
    expect(scope.locator(f".mg-tags-{field}")).to_contain_text(text)
    expect(entry).to_have_value("")


@pytest.mark.parametrize("theme", THEMES)
def test_patient_form(page: Page, app_url: str, theme: str, artifacts: Path) -> None:
    form = open_app(page, app_url, theme)
    if theme == "dark":
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    cards = form.locator(".mg-flags")
    age = form.get_by_label("Age (years)")
    age.fill("52")
    form.locator(".mg-in-sex select").select_option(label="female")
    serum = form.get_by_label("Serum Mg")
    serum.fill("1.2")
    form.locator(".mg-in-serum_mg_unit select").select_option("mg/dL")
    expect(cards).to_contain_text("serum 1.2 mg/dL below the lower limit")
    add_tag(form, "medications", "Prilosec")
    expect(cards).to_contain_text("omeprazole (Prilosec)")
    add_tag(form, "medications", "zzzdrug")
    expect(form.locator(".mg-error-medications")).to_contain_text("'zzzdrug' not recognised")
    add_tag(form, "diagnoses", "N18.4")
    expect(cards.locator('[data-indicator="critical"]').first).to_contain_text("Contraindicated")
    expect(cards.locator('[data-indicator="critical"] .mg-badge').first).to_have_text(WORDS["critical"])
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


@pytest.mark.parametrize("theme", THEMES)
def test_cohort_upload_select_save(page: Page, app_url: str, theme: str, artifacts: Path) -> None:
    workbook = SAMPLES / "ms_clinic.xlsx"
    if not workbook.exists():
        pytest.skip("sample workbooks not generated yet")
    open_app(page, app_url, theme)
    page.get_by_role("tab", name="Cohort").click()
    cohort = page.locator(".mg-cohort")
    table = cohort.locator(".mg-table")
    expect(table).to_contain_text("DEMO-1", timeout=LOAD)
    with page.expect_file_chooser() as chooser:
        cohort.locator(".mg-upload").click()
    chooser.value.set_files(workbook)
    expect(cohort.locator(".mg-table-message")).to_contain_text("60 patient(s) loaded from ms_clinic.xlsx",
                                                                 timeout=LOAD)
    expect(table).to_contain_text("MS-0001")
    # search, then select a row: it opens in the form
    table.get_by_role("searchbox").fill("MS-0003")
    row = table.locator("tbody tr", has_text="MS-0003")
    expect(row).to_have_count(1)
    row.locator("td").first.click()
    expect(cohort.locator(".mg-editing")).to_contain_text("patient MS-0003", timeout=LOAD)
    form = cohort.locator(".mg-patient-form")
    expect(form.get_by_label("Patient ID")).to_have_value("MS-0003")
    expect(form.locator(".mg-flags")).to_contain_text("Deficiency risk")
    # edit and save: that row is re-assessed and still shown
    egfr = form.get_by_label("eGFR / CrCl (mL/min)")
    egfr.fill("20")
    egfr.press("Tab")
    expect(form.locator(".mg-flags")).to_contain_text("Contraindicated")
    form.get_by_role("button", name="Save patient").click()
    expect(cohort.locator(".mg-table-message")).to_contain_text("saved and re-assessed")
    table.get_by_role("searchbox").fill("MS-0003")
    cell = table.locator("tbody tr", has_text="MS-0003").locator(".mg-flag", has_text="CONTRAINDICATED")
    expect(cell).to_be_visible()
    expect(cell).to_have_css("background-color", "rgb(213, 94, 0)")  # the STOP colour, #D55E00
    page.locator(".mg-app").screenshot(path=str(artifacts / f"cohort_{theme}.png"))
