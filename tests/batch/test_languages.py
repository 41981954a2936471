"""Clinic exports in German, French, Spanish, Italian and Dutch: every field's header is read (knowledge data,
``fields.toml`` aliases), and a run that reads no medication or no diagnosis column says so first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mgdecision as mg
from mgdecision.batch.sheets import NOT_CHECKED

from .conftest import flagged_table, sheet_rows

# One header per field as a clinic in each language writes it (units in brackets, accents, capitals).
HEADERS = {
    "de": {"patient_id": "Patientennummer", "age": "Alter", "sex": "Geschlecht", "pregnant": "Schwanger",
           "lactating": "Stillzeit", "serum_mg": "Magnesium im Serum (mmol/l)", "serum_mg_unit": "Einheit",
           "egfr": "Kreatinin-Clearance", "dialysis": "Dialyse", "diagnoses": "Diagnosen", "medications": "Medikamente",
           "symptoms": "Beschwerden", "supplement_form": "Präparat", "supplement_dose_mg": "Tagesdosis (mg)",
           "route": "Applikationsweg", "ref_low": "Untere Grenze", "ref_high": "Obere Grenze",
           "date_of_birth": "Geburtsdatum", "assessment_date": "Untersuchungsdatum",
           "supplement_compound_mg": "Salzmenge mg", "ref_range": "Referenzbereich",
           "creatinine": "Kreatinin", "serum_mg_date": "Datum Magnesium",
           "egfr_date": "eGFR-Datum", "creatinine_date": "Kreatinin-Datum"},
    "fr": {"patient_id": "N° patient", "age": "Âge (ans)", "sex": "Sexe", "pregnant": "Enceinte",
           "lactating": "Allaitement", "serum_mg": "Magnésium sérique (mmol/L)", "serum_mg_unit": "Unité",
           "egfr": "DFG", "dialysis": "Hémodialyse", "diagnoses": "Diagnostics", "medications": "Médicaments",
           "symptoms": "Symptômes", "supplement_form": "Complément", "supplement_dose_mg": "Dose quotidienne",
           "route": "Voie d'administration", "ref_low": "Limite inférieure", "ref_high": "Limite supérieure",
           "date_of_birth": "Date de naissance", "assessment_date": "Date de consultation",
           "supplement_compound_mg": "Poids du sel mg", "ref_range": "Valeurs de référence",
           "creatinine": "Créatinine", "serum_mg_date": "Date du magnésium",
           "egfr_date": "Date du DFG", "creatinine_date": "Date de la créatinine"},
    "es": {"patient_id": "ID paciente", "age": "Edad", "sex": "Sexo", "pregnant": "Embarazada",
           "lactating": "Lactancia", "serum_mg": "Magnesio sérico (mg/dL)", "serum_mg_unit": "Unidad",
           "egfr": "TFG", "dialysis": "Diálisis", "diagnoses": "Diagnósticos", "medications": "Medicamentos",
           "symptoms": "Síntomas", "supplement_form": "Suplemento", "supplement_dose_mg": "Dosis diaria",
           "route": "Vía de administración", "ref_low": "Límite inferior", "ref_high": "Límite superior",
           "date_of_birth": "Fecha de nacimiento", "assessment_date": "Fecha de consulta",
           "supplement_compound_mg": "Comprimido mg", "ref_range": "Rango de referencia",
           "creatinine": "Creatinina", "serum_mg_date": "Fecha del magnesio",
           "egfr_date": "Fecha de TFG", "creatinine_date": "Fecha de creatinina"},
    "it": {"patient_id": "ID paziente", "age": "Età", "sex": "Sesso", "pregnant": "Gravidanza",
           "lactating": "Allattamento", "serum_mg": "Magnesio (mmol/L)", "serum_mg_unit": "Unità",
           "egfr": "VFG", "dialysis": "Dialisi", "diagnoses": "Diagnosi", "medications": "Farmaci",
           "symptoms": "Sintomi", "supplement_form": "Integratore", "supplement_dose_mg": "Dose giornaliera",
           "route": "Via di somministrazione", "ref_low": "Limite inferiore", "ref_high": "Limite superiore",
           "date_of_birth": "Data di nascita", "assessment_date": "Data visita",
           "supplement_compound_mg": "Compressa mg", "ref_range": "Intervallo di riferimento",
           "creatinine": "Creatinina sierica", "serum_mg_date": "Data magnesio",
           "egfr_date": "Data VFG", "creatinine_date": "Data creatinina"},
    "nl": {"patient_id": "Patiëntnummer", "age": "Leeftijd", "sex": "Geslacht", "pregnant": "Zwanger",
           "lactating": "Borstvoeding", "serum_mg": "Magnesium in serum (mmol/L)", "serum_mg_unit": "Eenheid",
           "egfr": "Creatinineklaring", "dialysis": "Dialyse", "diagnoses": "Voorgeschiedenis",
           "medications": "Medicatie", "symptoms": "Klachten", "supplement_form": "Magnesiumsupplement",
           "supplement_dose_mg": "Dagdosis", "route": "Toedieningsweg", "ref_low": "Ondergrens",
           "ref_high": "Bovengrens", "date_of_birth": "Geboortedatum", "assessment_date": "Datum bezoek",
           "supplement_compound_mg": "Zoutgewicht mg", "ref_range": "Referentiewaarden",
           "creatinine": "Kreatinine", "serum_mg_date": "Datum magnesium",
           "egfr_date": "Datum eGFR", "creatinine_date": "Datum kreatinine"},
}


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


@pytest.mark.parametrize("language", sorted(HEADERS))
def test_every_field_is_read_from_a_clinic_header(language: str) -> None:
    written = HEADERS[language]
    assert set(written) == {f.name for f in mg.knowledge().fields}  # every field, in every language
    hmap = mg.map_headers(list(written.values()))
    assert {name: col for name, col in hmap.fields.items()} == {name: written[name] for name in hmap.fields}
    assert set(hmap.fields) == set(written), set(written) - set(hmap.fields)
    assert hmap.ignored == () and dict(hmap.near_misses) == {}


def test_no_alias_names_two_fields() -> None:
    """Except a generic result date ("Result date"), shared by the date fields: the column it follows decides."""
    owner: dict[str, str] = {}
    kinds = {f.name: f.kind for f in mg.knowledge().fields}
    for f in mg.knowledge().fields:
        for alias in (f.name, *f.aliases):
            key = _norm(alias)
            assert key, (f.name, alias)
            first = owner.setdefault(key, f.name)
            assert first == f.name or kinds[first] == kinds[f.name] == "date", (alias, first, f.name)


@pytest.mark.parametrize("medications,diagnoses", [("Medikamente", "Diagnosen"), ("Médicaments", "Diagnostics"),
                                                   ("Medicamentos", "Diagnósticos"), ("Farmaci", "Diagnosi"),
                                                   ("Medicatie", "Diagnose")])
def test_myasthenia_on_pyridostigmine_is_flagged_in_every_language(tmp_path: Path, run_cli, medications: str,
                                                                    diagnoses: str) -> None:
    src = tmp_path / "export.csv"
    src.write_text(f"ID;Alter;Geschlecht;{diagnoses};{medications}\nK-1;45;M;Myasthenia gravis;Pyridostigmin, "
                   "pyridostigmine 60 mg\n", encoding="utf-8")
    code, _out, err = run_cli("assess", src, "-q")
    assert code == 0, err
    _, rows = flagged_table(tmp_path / "export.flagged.xlsx", "export")
    assert rows[0]["mg_contraindication"] == "CONTRAINDICATED"
    assert "NOT CHECKED" not in err


@pytest.mark.parametrize("mode", ["--annotate", "--streaming"])
def test_no_medication_or_diagnosis_column_comes_first(tmp_path: Path, run_cli, mode: str) -> None:
    """A header the tool does not know leaves a list unread: the console and the Summary sheet lead with it."""
    import openpyxl

    src = tmp_path / "export.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(["ID", "Age", "Sex", "Serum Mg (mmol/L)", "Arzneien zuhause", "Leiden"])  # neither is read
    ws.append(["K-1", 45, "M", 0.8, "Pyridostigmin", "Myasthenia gravis"])
    wb.save(src)
    code, out, err = run_cli("assess", src, mode)
    assert code == 0
    wanted = {"NOT CHECKED: " + NOT_CHECKED[name] for name in ("diagnoses", "medications")}
    first = [ln for ln in err.splitlines() if ln.strip()][:2]
    assert {ln.split(". Add")[0] for ln in first} == wanted
    assert {ln.split(". Add")[0] for ln in out.splitlines()[:2]} == wanted  # the closing printout too
    summary = sheet_rows(tmp_path / "export.flagged.xlsx", "Summary")
    assert {summary[1][0].split(". Add")[0], summary[2][0].split(". Add")[0]} == wanted
    assert mg.map_headers(["ID", "Age", "Arzneien zuhause", "Leiden"]).missing_lists == ("diagnoses", "medications")
