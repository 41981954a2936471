#!/usr/bin/env python3
"""Write the example patient workbooks of mgdecision.

    python sample_workbooks/generate.py            # (re)writes the workbooks next to this script
    python sample_workbooks/generate.py OUT_DIR    # writes them into OUT_DIR instead

Workbooks: ms_clinic.xlsx, neuromuscular_clinic.xlsx, primary_care.xlsx, template.xlsx.
Every patient is fictional (ids MS-0001, NM-0001, PC-0001, ...; no names).

The output is deterministic: each workbook has its own fixed random seed, nothing depends on
the date, the clock or the environment, and the files are saved with fixed document
properties and fixed zip timestamps, so two runs give byte-identical files.

The column headers are deliberately the kind of variants real exports use ("MRN", "Dx",
"Serum Mg (mmol/L)", "CrCl", ...); every input column header is an alias listed in
mgdecision/knowledge/fields.toml (the MS sheet also carries a clinic-only "EDSS" column).
fields.toml is also read here for the column order of the blank template.
"""
from __future__ import annotations

import collections
import datetime as dt
import io
import random
import re
import sys
import tomllib
import zipfile
from collections.abc import Hashable
from importlib import resources
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

HERE = Path(__file__).resolve().parent
# the installed package's copy (the same file as mgdecision/knowledge/fields.toml in a checkout)
FIELDS_TOML = resources.files("mgdecision").joinpath("knowledge", "fields.toml")

FILE_TIMESTAMP = dt.datetime(2026, 1, 1, 0, 0, 0)  # document properties and zip member times
ASSESSMENT_DATE = dt.date(2026, 11, 1)
SEEDS = {"ms_clinic": 3501, "neuromuscular_clinic": 7001, "primary_care": 1123}

MG_PER_DL_PER_MMOL = 2.4305  # 1 mmol/L = 2.4305 mg/dL = 2 mEq/L (clinical-rules.md section 1)
MEQ_PER_MMOL = 2.0

# ---------------------------------------------------------------------------------------------
# Shared vocabularies
# ---------------------------------------------------------------------------------------------

# How a drug is written in real medication lists: the generic name first, then brand names.
# A key that is missing here is written as it is (combination brands such as "Triumeq").
SPELLINGS: dict[str, tuple[str, ...]] = {
    # multiple sclerosis disease-modifying therapies
    "ocrelizumab": ("ocrelizumab", "Ocrevus"),
    "natalizumab": ("natalizumab", "Tysabri"),
    "dimethyl fumarate": ("dimethyl fumarate", "Tecfidera"),
    "fingolimod": ("fingolimod", "Gilenya"),
    "glatiramer": ("glatiramer", "Copaxone"),
    # symptomatic and neuromuscular drugs
    "gabapentin": ("gabapentin", "Neurontin"),
    "fampridine": ("fampridine", "Ampyra"),
    "pyridostigmine": ("pyridostigmine", "Mestinon"),
    "mycophenolate": ("mycophenolate", "CellCept", "Myfortic"),
    "eculizumab": ("eculizumab", "Soliris"),
    "efgartigimod": ("efgartigimod", "Vyvgart"),
    "amifampridine": ("amifampridine", "Firdapse"),
    # drugs that lower magnesium
    "omeprazole": ("omeprazole", "Prilosec"),
    "esomeprazole": ("esomeprazole", "Nexium"),
    "furosemide": ("furosemide", "Lasix"),
    "hydrochlorothiazide": ("hydrochlorothiazide", "HCTZ"),
    # drugs that interact with magnesium
    "doxycycline": ("doxycycline", "Vibramycin", "Doryx"),
    "minocycline": ("minocycline", "Minocin"),
    "ciprofloxacin": ("ciprofloxacin", "Cipro"),
    "levofloxacin": ("levofloxacin", "Levaquin"),
    "moxifloxacin": ("moxifloxacin", "Avelox"),
    "alendronate": ("alendronate", "Fosamax"),
    "risedronate": ("risedronate", "Actonel"),
    "ibandronate": ("ibandronate", "Boniva"),
    "levothyroxine": ("levothyroxine", "Synthroid", "Levoxyl", "Euthyrox"),
    "eltrombopag": ("eltrombopag", "Promacta", "Revolade"),
    "digoxin": ("digoxin", "Lanoxin"),
    "spironolactone": ("spironolactone", "Aldactone"),
    "sodium polystyrene sulfonate": ("sodium polystyrene sulfonate", "Kayexalate"),
    "iron": ("ferrous sulfate", "ferrous fumarate", "iron"),
}

# Doses as clinicians append them; no "/" or "," inside, those separate list items.
DOSES: dict[str, tuple[str, ...]] = {
    "omeprazole": ("20 mg", "40mg", "20mg od"),
    "esomeprazole": ("40 mg", "20mg"),
    "pantoprazole": ("40 mg", "40mg daily"),
    "lansoprazole": ("30 mg", "15mg"),
    "furosemide": ("40 mg", "40mg bd", "20 mg", "80mg od"),
    "bumetanide": ("1 mg", "2mg"),
    "hydrochlorothiazide": ("25 mg", "12.5 mg"),
    "indapamide": ("2.5 mg", "1.5mg"),
    "levothyroxine": ("50 mcg", "100 micrograms", "75mcg"),
    "doxycycline": ("100 mg", "100mg bd"),
    "ciprofloxacin": ("500 mg bd", "250mg"),
    "baclofen": ("10 mg tds", "20mg"),
    "tizanidine": ("2 mg", "4mg nocte"),
    "gabapentin": ("300 mg", "300mg tds", "600 mg"),
    "modafinil": ("100 mg", "200mg"),
    "fampridine": ("10 mg bd",),
    "oxybutynin": ("5 mg", "5mg bd"),
    "sertraline": ("50 mg", "100mg"),
    "metformin": ("500 mg", "1 g bd", "850mg"),
    "atorvastatin": ("20 mg", "40mg"),
    "lisinopril": ("10 mg", "20mg"),
    "amlodipine": ("5 mg", "10mg"),
    "metoprolol": ("25 mg", "50mg bd"),
    "bisoprolol": ("2.5 mg", "5mg"),
    "aspirin": ("75 mg", "81 mg"),
    "paracetamol": ("1 g qds", "500mg prn"),
    "digoxin": ("125 mcg", "62.5 micrograms"),
    "spironolactone": ("25 mg", "12.5mg"),
    "pyridostigmine": ("60 mg", "60mg qds", "30 mg tds"),
    "prednisone": ("10 mg", "5mg", "20 mg"),
    "prednisolone": ("5 mg", "30mg"),
    "azathioprine": ("50 mg", "100mg"),
    "mycophenolate": ("500 mg bd", "1 g bd"),
    "amifampridine": ("10 mg tds",),
    "alendronate": ("70 mg weekly",),
    "iron": ("200 mg", "325mg"),
    "warfarin": ("3 mg", "5mg"),
    "apixaban": ("5 mg bd", "2.5mg bd"),
    "insulin glargine": ("20 units", "14 units nocte"),
    "tacrolimus": ("2 mg bd", "3mg bd"),
    "dolutegravir": ("50 mg",),
    "riluzole": ("50 mg bd",),
}

# Misspellings seen in hand-typed lists (primary care only).
TYPOS = {"furosemide": "furosemid", "omeprazole": "omeprazol",
         "levothyroxine": "levothyroxin", "metformin": "metforminn"}

# Made-up names that no vocabulary contains: the tool must list them as unrecognised.
UNKNOWN_DRUGS = ("Zorvatrin", "Klembaxol 5 mg", "Pemoraxin")

PPIS = ("omeprazole", "esomeprazole", "pantoprazole", "lansoprazole")

# Written forms of each diagnosis; a form listed twice is picked twice as often.
DIAGNOSES: dict[str, tuple[str, ...]] = {
    "ms_relapsing": ("G35.A", "G35.A", "RRMS", "G35A", "G35", "multiple sclerosis"),
    "ms_primary_progressive": ("G35.B0", "G35.B0", "G35"),
    "ms_secondary_progressive": ("G35.C1", "G35.C1", "G35"),
    "ms_unspecified": ("G35.D", "multiple sclerosis", "G35"),
    "myasthenia": ("G70.00", "G70.00", "G70.01", "G7001", "myasthenia gravis"),
    "ocular_myasthenia": ("ocular myasthenia",),
    "lems": ("G70.80", "LEMS", "Lambert-Eaton"),
    "lems_paraneoplastic": ("G73.1",),
    "cidp": ("G61.81", "CIDP"),
    "als": ("G12.21", "ALS"),
    "ibm": ("G72.41", "inclusion body myositis"),
    "t2dm": ("E11.9", "E11.9", "T2DM", "type 2 diabetes"),
    "diabetic_neuropathy": ("E11.40",),
    "hypertension": ("I10", "I10", "hypertension", "HTN"),
    "crohns": ("K50.90", "Crohn's disease"),
    "ulcerative_colitis": ("K51.90", "ulcerative colitis"),
    "celiac": ("K90.0", "K90.0", "coeliac disease"),
    "bariatric": ("Z98.84", "bariatric surgery", "gastric bypass"),
    "short_bowel": ("short bowel syndrome",),
    "gitelman": ("Gitelman syndrome",),
    "hypermagnesaemia": ("E83.41",),
    "alcohol": ("F10.20", "F10.20", "alcohol use disorder", "alcohol dependence"),
    "ckd3a": ("N18.31",),
    "ckd3b": ("N18.32",),
    "ckd4": ("N18.4",),
    "ckd5": ("N18.5",),
    "ckd6": ("N18.6",),
    "heart_failure": ("I50.9", "heart failure"),
    "atrial_fibrillation": ("I48.91", "atrial fibrillation"),
    "oedema": ("R60.0",),
    "gord": ("K21.9",),
    "anxiety": ("F41.1",),
    "depression": ("F32.9", "depression"),
    "insomnia": ("G47.00",),
    "constipation": ("K59.00",),
    "somatic_symptom": ("F45.1",),
    "hypothyroid": ("E03.9", "hypothyroidism"),
    "osteoporosis": ("M81.0", "osteoporosis"),
    "iron_deficiency": ("D50.9",),
    "recurrent_uti": ("N39.0",),
    "migraine": ("G43.909", "migraine"),
    "asthma": ("J45.909", "asthma"),
    "copd": ("J44.9", "COPD"),
    "hyperlipidaemia": ("E78.5",),
    "gout": ("M10.9",),
    "bph": ("N40.0",),
    "acne": ("L70.0", "acne"),
    "rosacea": ("L71.9",),
    "pneumonia": ("J18.9",),
    "hiv": ("B20", "HIV", "Z21"),
    "itp": ("D69.3", "ITP"),
    "kidney_transplant": ("Z94.0", "kidney transplant"),
    "wilson": ("E83.01", "Wilson disease"),
    "rheumatoid": ("M06.9",),
    "cystic_fibrosis": ("E84.0", "cystic fibrosis"),
    "bronchiectasis": ("J47.9",),
    "ntm": ("A31.0",),
    "cmv": ("B25.9",),
    "aspergillosis": ("B44.9",),
    "aml": ("C92.00",),
    "colorectal_cancer": ("C18.9",),
    "laryngeal_cancer": ("C32.9",),
    "lung_cancer": ("C34.90", "small cell lung cancer"),
    "ovarian_cancer": ("C56.9",),
    "weakness": ("R53.1", "generalised weakness"),
    "heart_block_2": ("I44.1",),
    "heart_block_3": ("I44.2",),
    "complete_heart_block": ("complete heart block",),
    "heart_block": ("I44.30",),
    "bradycardia": ("R00.1",),
}

# Symptom phrases as written in clinic notes.
SYMPTOMS: dict[str, tuple[str, ...]] = {
    "cramps": ("cramps", "leg cramps at night", "muscle cramps", "spasms"),
    "sleep": ("insomnia", "poor sleep"),
    "brain_fog": ("brain fog",),
    "fatigue": ("fatigue",),
    "anxiety": ("anxiety",),
    "constipation": ("constipation",),
    "twitching": ("twitching",),
    "diarrhoea": ("diarrhoea", "diarrhea"),
    "headache": ("migraine", "headaches"),
    "palpitations": ("palpitations",),
    "tremor": ("tremor",),
    "weakness": ("weakness",),
    "double_vision": ("double vision", "ptosis"),
    "negation": ("no cramps", "no cramps", "denies palpitations"),
}

# Supplement forms as patients report them, by what they take them for (the seed articles).
SUPPLEMENT_FORMS: dict[str, tuple[str, ...]] = {
    "sleep": ("glycinate", "Mg glycinate", "magnesium glycinate"),
    "anxiety": ("glycinate", "Mg glycinate"),
    "cramps": ("glycinate", "citrate", "Mg glycinate"),
    "constipation": ("citrate", "oxide", "magnesium citrate"),
    "brain_fog": ("threonate", "L-threonate"),
    "fatigue": ("malate",),
    "any": ("glycinate", "citrate", "oxide", "oxide", "Mg glycinate", "malate", "threonate"),
    "rare": ("chloride", "taurate", "lactate", "aspartate", "L-threonate", "glycerophosphate"),
}
# Elemental mg/day; 400 and 500 are the doses of the MS article and the insomnia trial (> UL 350).
SUPPLEMENT_DOSES = (100, 120, 150, 200, 200, 250, 250, 300, 300, 350, 400, 400, 500)

LIST_SEPARATORS = ("; ", ", ", "/", "\n")
LIST_SEPARATOR_WEIGHTS = (40, 30, 10, 20)

ICD_CODE = re.compile(r"^[A-Z]\d\d\.\w+$")


class Scribe(random.Random):
    """The random source of one workbook, which also writes names the way its clinic does.

    Successive mentions of a drug or diagnosis rotate through its written forms (generic,
    first brand, generic, second brand, ...), so every brand and code variant of the shared
    vocabularies appears once the item is mentioned often enough, whatever the seed.
    """

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._mentions: collections.Counter[Hashable] = collections.Counter()

    def rotate(self, key: Hashable, forms: tuple):
        index = self._mentions[key]
        self._mentions[key] += 1
        return forms[index % len(forms)]

    def cycle(self, options: tuple):
        """The next of several options, in turn: how a clinic's prescribing spreads over a class."""
        return self.rotate(options, options)


def med(rng: Scribe, key: str, dose_p: float = 0.35, typos: bool = False) -> str:
    """One medication as written on a list: generic or brand, sometimes with a dose.

    With typos, every eighth mention of a generic name in TYPOS is misspelt.
    """
    generic, *brands = SPELLINGS.get(key, (key,))
    name = rng.rotate(key, tuple(x for brand in brands for x in (generic, brand)) or (generic,))
    if typos and key in TYPOS and name == generic and rng.rotate("typo " + key, (False,) * 7 + (True,)):
        name = TYPOS[key]
    if key in DOSES and rng.random() < dose_p:
        name = f"{name} {rng.choice(DOSES[key])}"
    return name


def diagnosis(rng: Scribe, key: str, dotless: bool = False) -> str:
    """One diagnosis as written: an ICD-10-CM code (without its dot if dotless) or a name."""
    form = rng.rotate(key, DIAGNOSES[key])
    return form.replace(".", "") if dotless and ICD_CODE.match(form) else form


def symptom(rng: Scribe, key: str) -> str:
    return rng.rotate(key, SYMPTOMS[key])


def join_list(rng: Scribe, items: list[str], mixed_p: float = 0.06) -> str | None:
    """Join list items with one separator per cell; a few cells mix separators."""
    if not items:
        return None
    if rng.random() < mixed_p:
        out = items[0]
        for item in items[1:]:
            out += rng.choices(LIST_SEPARATORS, LIST_SEPARATOR_WEIGHTS)[0] + item
        return out
    return rng.choices(LIST_SEPARATORS, LIST_SEPARATOR_WEIGHTS)[0].join(items)


def join_symptoms(rng: Scribe, phrases: list[str]) -> str | None:
    return rng.choice(("; ", ", ")).join(phrases) if phrases else None


def supplement(rng: Scribe, reasons: list[str]) -> str:
    """A supplement form matching one of the reasons the patient takes it for."""
    usable = [r for r in reasons if r in SUPPLEMENT_FORMS]
    return rng.choice(SUPPLEMENT_FORMS[rng.choice(usable) if usable else "any"])


def clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def true_serum(rng: Scribe, shift: float, low: float, high: float, spread: float = 0.065) -> float:
    """Serum magnesium in mmol/L: a normal population value moved by the patient's risk factors."""
    return clamp(rng.gauss(0.86, spread) + shift, low, high)


def serum_text(rng: Scribe, mmol: float, unit: str) -> str:
    """A serum value with its unit in the cell, as lab interfaces and clinicians write it."""
    value = {"mmol/L": f"{mmol:.2f}",
             "mg/dL": f"{mmol * MG_PER_DL_PER_MMOL:.1f}",
             "mEq/L": f"{mmol * MEQ_PER_MMOL:.1f}"}[unit]
    if rng.random() < 0.08:
        unit = unit.lower()  # "mmol/l", "mg/dl", "meq/l"
    return value + ("" if rng.random() < 0.05 else " ") + unit


def adult_egfr(rng: Scribe, age: int) -> int:
    """eGFR of someone without coded kidney disease: falls with age, rarely below 60."""
    return round(clamp(122 - 0.85 * max(age - 25, 0) + rng.gauss(0, 9), 48 if age > 75 else 60, 130))


CKD_EGFR = {"ckd3a": (45, 59), "ckd3b": (30, 44), "ckd4": (15, 29), "ckd5": (8, 14), "ckd6": (5, 12)}
CKD_SERUM_SHIFT = {"ckd3a": 0.0, "ckd3b": 0.03, "ckd4": 0.08, "ckd5": 0.12, "ckd6": 0.15}


def sex_cell(rng: Scribe, female: bool, word_p: float) -> str:
    if rng.random() < word_p:
        return rng.choice(("female", "Female", "woman") if female else ("male", "Male", "man"))
    return "F" if female else "M"


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")


def write_table(ws, columns: list[tuple[str, str, float]], rows: list[dict]) -> None:
    """Header row plus one row per patient; columns are (header text, row key, width)."""
    for c, (header, _key, width) in enumerate(columns, 1):
        cell = ws.cell(1, c, header)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        ws.column_dimensions[get_column_letter(c)].width = width
    for r, row in enumerate(rows, 2):
        for c, (_header, key, _width) in enumerate(columns, 1):
            value = row.get(key)
            if value is None:
                continue
            cell = ws.cell(r, c, value)
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, str) and "\n" in value:
                cell.alignment = WRAP
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"


def save_workbook(wb: Workbook, path: Path) -> None:
    """Save with fixed document properties and zip timestamps, so reruns are byte-identical."""
    wb.properties.creator = "mgdecision sample generator"
    wb.properties.lastModifiedBy = "mgdecision sample generator"
    wb.properties.created = wb.properties.modified = FILE_TIMESTAMP
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()  # wb.save() would stamp "modified" with the clock
    member_time = FILE_TIMESTAMP.timetuple()[:6]
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, member_time), src.read(info),
                         compress_type=zipfile.ZIP_DEFLATED)


def patients_workbook(columns, rows) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "Patients"
    write_table(ws, columns, rows)
    return wb


# ---------------------------------------------------------------------------------------------
# 1. Multiple sclerosis clinic
# ---------------------------------------------------------------------------------------------

MS_COLUMNS = [
    ("MRN", "patient_id", 10), ("Age", "age", 6), ("Sex", "sex", 7),
    ("Pregnant?", "pregnant", 10), ("Serum Mg (mmol/L)", "serum_mg", 17), ("eGFR", "egfr", 7),
    ("Dx", "diagnoses", 26), ("Meds", "medications", 48), ("Symptoms", "symptoms", 30),
    ("Supplement", "supplement_form", 16), ("Dose (mg)", "supplement_dose_mg", 10),
    ("EDSS", "edss", 6),
]

MS_DMTS = {  # taken in turn per course, so repeats act as weights; None = no disease-modifying therapy
    "relapsing": ("ocrelizumab", "dimethyl fumarate", "natalizumab", "glatiramer", "fingolimod",
                  "teriflunomide", None, "interferon beta-1a", "ocrelizumab", "dimethyl fumarate",
                  "glatiramer", "natalizumab", "ocrelizumab", "teriflunomide", None, "fingolimod"),
    "primary_progressive": ("ocrelizumab", None, "ocrelizumab"),
    "secondary_progressive": ("ocrelizumab", None, "natalizumab", None, None),
}
MS_ROLES = ("pregnant", "pregnant", "ckd4", "crohns", "atrial_fibrillation", "heart_failure",
            "hypothyroid", "hypothyroid")
MS_COURSE = {  # weight, onset ages, years since onset, share of women, EDSS range
    "relapsing": (62, (20, 45), (0, 22), 0.74, (1.0, 4.0)),
    "primary_progressive": (12, (35, 50), (1, 20), 0.5, (3.0, 6.5)),
    "secondary_progressive": (16, (20, 40), (10, 30), 0.7, (4.0, 7.0)),
    "unspecified": (10, (20, 50), (0, 25), 0.7, (1.0, 6.0)),
}


def ms_patient(rng: Scribe, pid: str, role: str | None = None) -> dict:
    """One MS patient; role is None or one of MS_ROLES, a profile that must appear in the clinic."""
    pregnant, ckd4 = role == "pregnant", role == "ckd4"
    course = "relapsing" if pregnant else rng.choices(
        list(MS_COURSE), [spec[0] for spec in MS_COURSE.values()])[0]
    _w, onset_range, duration_range, female_share, edss_range = MS_COURSE[course]
    onset = rng.randint(*onset_range)
    age = min(onset + rng.randint(*duration_range), 79)
    if pregnant:
        onset = rng.randint(20, 30)
        age = onset + rng.randint(1, 9)
    if role in ("ckd4", "atrial_fibrillation", "heart_failure"):
        age = max(age, rng.randint(62, 74))
    female = pregnant or rng.random() < female_share
    progressive = course.endswith("progressive")

    dx = [diagnosis(rng, "ms_" + course)]
    meds: list[str] = []
    sx: list[str] = []      # symptom keys
    shift = -0.04           # serum magnesium shift, mmol/L: lower in MS (clinical-facts.md 8d)
    ckd = None

    dmt = rng.cycle(MS_DMTS.get(course, MS_DMTS["relapsing"]))
    if pregnant:  # teratogenic DMTs stopped; glatiramer may continue
        dmt = rng.choice(("glatiramer", None))
    if dmt:
        meds.append(med(rng, dmt, dose_p=0))

    if pregnant:
        meds += [med(rng, "iron"), "folic acid"]
        sx += rng.sample(["cramps", "constipation", "fatigue", "sleep"], 2)
    else:
        if rng.random() < (0.65 if progressive else 0.3):
            meds.append(med(rng, rng.cycle(("baclofen", "tizanidine", "baclofen"))))
            sx.append("cramps")
        if rng.random() < 0.22:
            meds.append(med(rng, "gabapentin"))
        if rng.random() < 0.12:
            meds.append(med(rng, "modafinil"))
            sx.append("fatigue")
        if rng.random() < (0.3 if progressive else 0.1):
            meds.append(med(rng, "fampridine"))
        if rng.random() < (0.4 if progressive else 0.2):
            meds.append(med(rng, "oxybutynin"))
        if rng.random() < 0.15:
            meds.append(med(rng, "sertraline"))

        if age >= 40 and rng.random() < 0.10:
            dx.append(diagnosis(rng, "t2dm"))
            meds.append(med(rng, "metformin"))
            shift -= 0.03
        if age >= 45 and rng.random() < 0.22:
            dx.append(diagnosis(rng, "hypertension"))
            drug = rng.cycle(("amlodipine", "hydrochlorothiazide", "lisinopril"))
            meds.append(med(rng, drug))
            shift -= 0.04 if drug == "hydrochlorothiazide" else 0
        if rng.random() < 0.15:
            dx.append(diagnosis(rng, "anxiety"))
            sx.append("anxiety")
        if rng.random() < 0.12:
            dx.append(diagnosis(rng, "insomnia"))
            sx.append("sleep")
        if rng.random() < (0.25 if progressive else 0.1):
            dx.append(diagnosis(rng, "constipation"))
            sx.append("constipation")
        if role == "crohns" or rng.random() < 0.03:
            dx.append(diagnosis(rng, "crohns"))
            sx.append("diarrhoea")
            shift -= 0.08
        if rng.random() < 0.04:
            dx.append(diagnosis(rng, "somatic_symptom"))
            sx += ["anxiety", "fatigue"]
        if ckd4:
            ckd = "ckd4"
        elif age >= 55 and rng.random() < 0.12:
            ckd = "ckd3a"
        if ckd:
            dx.append(diagnosis(rng, ckd))
            shift += CKD_SERUM_SHIFT[ckd]
        if rng.random() < 0.12 + 0.004 * age:
            meds.append(med(rng, rng.cycle(("omeprazole", "esomeprazole", "pantoprazole", "omeprazole"))))
            shift -= 0.05
        if ckd == "ckd4" or role == "heart_failure" or (age >= 58 and rng.random() < 0.15):
            dx.append(diagnosis(rng, rng.choice(("heart_failure", "oedema"))))
            meds.append(med(rng, "furosemide"))
            shift -= 0.05
            if role == "heart_failure" or rng.random() < 0.3:
                meds.append(med(rng, "spironolactone"))
        if role == "atrial_fibrillation" or (age >= 62 and rng.random() < 0.06):
            dx.append(diagnosis(rng, "atrial_fibrillation"))
            meds += [med(rng, "digoxin"), med(rng, "apixaban")]
        if role == "hypothyroid" or (female and rng.random() < 0.1):
            dx.append(diagnosis(rng, "hypothyroid"))
            meds.append(med(rng, "levothyroxine"))
        if ((female and age >= 50) or progressive) and rng.random() < 0.15:
            dx.append(diagnosis(rng, "osteoporosis"))
            meds.append(med(rng, "alendronate"))
        if female and age < 50 and rng.random() < 0.1:
            meds.append(med(rng, "iron"))
        if rng.random() < 0.08:  # bladder dysfunction: recurrent urinary infections
            dx.append(diagnosis(rng, "recurrent_uti"))
            meds.append(med(rng, "ciprofloxacin"))
        if rng.random() < 0.06:
            meds.append(med(rng, "doxycycline"))

        for key, p in (("fatigue", 0.4), ("cramps", 0.15), ("sleep", 0.18), ("brain_fog", 0.2),
                       ("twitching", 0.08), ("anxiety", 0.05), ("diarrhoea", 0.03)):
            if rng.random() < p:
                sx.append(key)
    sx = list(dict.fromkeys(sx))  # unique, in order
    phrases = [symptom(rng, key) for key in sx]
    if "cramps" not in sx and rng.random() < 0.07:
        phrases.append("no cramps")
    rng.shuffle(phrases)

    form = dose = None
    if ckd4:  # magnesium oxide on top of stage 4 kidney disease: serum above the range (below)
        form, dose = "oxide", 400
    elif rng.random() < 0.4:
        form = supplement(rng, sx)
        dose = None if rng.random() < 0.08 else rng.choice(SUPPLEMENT_DOSES)
        shift += 0.03

    ckd_range = CKD_EGFR.get(ckd)
    egfr = rng.randint(*ckd_range) if ckd_range else adult_egfr(rng, age)
    mmol = true_serum(rng, shift, 0.55, 1.10, spread=0.08)
    if ckd4:
        mmol = max(mmol, rng.uniform(1.06, 1.10))
    return {
        "patient_id": pid,
        "age": age,
        "sex": sex_cell(rng, female, 0.05),
        "pregnant": "yes" if pregnant else (rng.choice((None, None, "no", "N")) if female and age <= 50 else None),
        "serum_mg": None if rng.random() < 0.08 and not ckd4 else round(mmol, 2),
        "egfr": None if rng.random() < 0.1 and not ckd else egfr,
        "diagnoses": join_list(rng, dx),
        "medications": join_list(rng, meds),
        "symptoms": join_symptoms(rng, phrases[:3]),
        "supplement_form": form,
        "supplement_dose_mg": dose,
        "edss": rng.randrange(int(edss_range[0] * 2), int(edss_range[1] * 2) + 1) / 2,
    }


def ms_notes_sheet(wb: Workbook) -> None:
    """A user sheet with text and formatting that a batch tool must leave untouched."""
    ws = wb.create_sheet("Notes")
    ws["A1"] = "MS clinic: magnesium review list"
    ws["A1"].font = Font(bold=True, size=14)
    lines = [
        "Export for the monthly supplement review (fictional sample data, made-up MRNs).",
        "Serum magnesium from the hospital laboratory, reported in mmol/L (lab range 0.70-1.00 mmol/L).",
        "Supplement doses are as reported by patients, in mg of elemental magnesium per day.",
        "Many patients ask about magnesium for cramps, sleep, anxiety and brain fog after reading "
        "patient-facing articles; several take 400-500 mg/day.",
        "Please do not sort or delete columns on the Patients sheet; add new columns at the right.",
    ]
    for row, text in enumerate(lines, 3):
        ws.cell(row, 1, text)
    ws.cell(9, 1, "Reviewed by: clinic pharmacist").font = Font(italic=True)
    ws.column_dimensions["A"].width = 110


def build_ms_clinic(rng: Scribe) -> Workbook:
    n = 60
    roles = dict(zip(rng.sample(range(n), len(MS_ROLES)), MS_ROLES, strict=True))
    rows = [ms_patient(rng, f"MS-{i + 1:04d}", roles.get(i)) for i in range(n)]
    wb = patients_workbook(MS_COLUMNS, rows)
    ms_notes_sheet(wb)
    return wb


# ---------------------------------------------------------------------------------------------
# 2. Neuromuscular clinic
# ---------------------------------------------------------------------------------------------

NM_COLUMNS = [
    ("Patient ID", "patient_id", 11), ("Age (years)", "age", 11), ("Gender", "sex", 8),
    ("Pregnancy", "pregnant", 10), ("Serum magnesium", "serum_mg", 16),
    ("Mg unit", "serum_mg_unit", 9), ("Lab low", "ref_low", 8), ("Lab high", "ref_high", 9),
    ("CrCl", "egfr", 7), ("Diagnosis", "diagnoses", 30), ("Current medications", "medications", 50),
    ("Complaints", "symptoms", 28), ("Mg supplement", "supplement_form", 15),
    ("Daily dose", "supplement_dose_mg", 10), ("Route", "route", 7),
]
NM_GROUPS = (["myasthenia"] * 17 + ["ocular_myasthenia"] * 3 + ["weakness"]
             + ["lems"] * 8 + ["cidp"] * 5 + ["als"] * 4 + ["ibm"] * 2)
NM_MG_ADVANCED = ("eculizumab", "eculizumab", "efgartigimod", "efgartigimod", "IVIG", "rituximab")
NM_LAB_RANGE = {"mg/dL": (1.6, 2.6), "mmol/L": (0.70, 1.00)}


def nm_patient(rng: Scribe, pid: str, group: str, special: str | None, advanced: str | None) -> dict:
    dx: list[str] = []
    meds: list[str] = []
    sx: list[str] = []
    shift = 0.0
    supplement_p = 0.1
    route = rng.choice((None, None, "oral"))

    if group in ("myasthenia", "ocular_myasthenia", "weakness"):
        early_onset = rng.random() < 0.55
        female = rng.random() < (0.8 if early_onset else 0.35)
        age = rng.randint(20, 44) if early_onset else rng.randint(55, 84)
        if special == "pregnant":
            early_onset, female, age = True, True, rng.randint(27, 38)
        dx.append(diagnosis(rng, group))
        if special == "iv":  # admitted in exacerbation, low magnesium, iv repletion proposed
            dx[0], route = "G70.01", "iv"
            shift -= 0.2
            sx += ["weakness"]
        meds.append(med(rng, "pyridostigmine"))
        if group == "myasthenia":
            steroid = rng.random() < 0.55
            if steroid:
                meds.append(med(rng, "prednisone"))
                meds.append(med(rng, rng.cycle(("omeprazole", "pantoprazole"))))
                shift -= 0.05
                if age >= 50 and rng.random() < 0.5:
                    meds += [med(rng, "alendronate"), "vitamin D"]
            sparing = rng.cycle(("azathioprine", None, "mycophenolate", None, None, "mycophenolate",
                                 "azathioprine", None))
            if special == "pregnant" and sparing == "mycophenolate":  # teratogenic
                sparing = "azathioprine"
            if sparing:
                meds.append(med(rng, sparing))
            if advanced:  # refractory generalised myasthenia
                meds.append(med(rng, advanced))
            if rng.random() < 0.15:
                dx.append("thymectomy")
            sx += rng.sample(["fatigue", "double_vision", "weakness", "cramps", "diarrhoea", "twitching"], 2)
            supplement_p = 0.25  # cramps from pyridostigmine: exactly what the seed article warns about
        else:
            sx += ["double_vision"] if group == "ocular_myasthenia" else ["weakness", "double_vision"]
    elif group == "lems":
        age, female = rng.randint(45, 78), rng.random() < 0.45
        paraneoplastic = rng.random() < 0.5
        if paraneoplastic:
            dx += [diagnosis(rng, "lems_paraneoplastic"), diagnosis(rng, "lung_cancer")]
            if rng.random() < 0.8:
                meds += [med(rng, rng.cycle(("carboplatin", "cisplatin", "carboplatin"))), "etoposide"]
                shift -= 0.08
        else:
            dx.append(diagnosis(rng, "lems"))
        if rng.random() < 0.85:
            meds.append(med(rng, "amifampridine"))
        for drug, p in (("pyridostigmine", 0.3), ("prednisone", 0.25), ("azathioprine", 0.15), ("IVIG", 0.15)):
            if rng.random() < p:
                meds.append(med(rng, drug))
        sx += rng.sample(["weakness", "fatigue", "constipation"], 2)
    else:  # contrast: neuropathy, motor neurone disease, myopathy
        age = rng.randint(40, 80) if group != "ibm" else rng.randint(62, 85)
        female = rng.random() < (0.45 if group == "ibm" else 0.35)
        dx.append(diagnosis(rng, group))
        if group == "cidp":
            meds.append("IVIG")
            if rng.random() < 0.3:
                meds.append(med(rng, "prednisone"))
            if rng.random() < 0.4:
                meds.append(med(rng, "gabapentin"))
            if special == "iv":
                route = "IV"
                shift -= 0.15
            sx += rng.sample(["weakness", "cramps", "fatigue"], 2)
        elif group == "als":
            meds.append(med(rng, "riluzole"))
            if rng.random() < 0.3:
                meds.append(med(rng, "baclofen"))
            if rng.random() < 0.3:
                meds.append(med(rng, "omeprazole"))
                shift -= 0.05
            sx += ["cramps", "twitching"]
            supplement_p = 0.5
        else:
            sx += ["weakness"]

    # comorbidity and the magnesium-relevant drugs of older patients
    ckd = None
    if age >= 55:
        if rng.random() < 0.35:
            dx.append(diagnosis(rng, "hypertension"))
            drug = rng.cycle(("amlodipine", "hydrochlorothiazide", "lisinopril"))
            meds.append(med(rng, drug))
            shift -= 0.04 if drug == "hydrochlorothiazide" else 0
        if rng.random() < 0.12:
            ckd = rng.choice(("ckd3a", "ckd3a", "ckd3b", "ckd4"))
            dx.append(diagnosis(rng, ckd))
            shift += CKD_SERUM_SHIFT[ckd]
        if rng.random() < 0.08 or ckd == "ckd4":
            meds.append(med(rng, "furosemide"))
            shift -= 0.05
        if rng.random() < 0.05:
            dx.append(diagnosis(rng, "atrial_fibrillation"))
            meds += [med(rng, "digoxin"), med(rng, "warfarin")]
    if rng.random() < 0.12:
        dx.append(diagnosis(rng, "t2dm"))
        meds.append(med(rng, "metformin"))
        shift -= 0.03
    if female and rng.random() < 0.12:
        dx.append(diagnosis(rng, "hypothyroid"))
        meds.append(med(rng, "levothyroxine"))
    if rng.random() < 0.05:
        meds.append(med(rng, rng.cycle(("ciprofloxacin", "doxycycline"))))
    if female and age < 50 and rng.random() < 0.12:
        meds.append(med(rng, "iron"))

    form = dose = None
    if rng.random() < supplement_p:
        form = supplement(rng, sx)
        dose = rng.choice(SUPPLEMENT_DOSES)

    crcl = (140 - age) * rng.uniform(0.95, 1.35) * (0.85 if female else 1.0)
    if ckd:
        crcl = rng.randint(*CKD_EGFR[ckd])
    unit = {"blank_unit": None, "mmol": "mmol/L"}.get(special, "mg/dL")
    measured = special in ("blank_unit", "mmol", "iv") or rng.random() < 0.9
    mmol = true_serum(rng, shift, 0.45, 1.25)
    if special == "iv":  # the reason iv magnesium is being considered
        mmol = min(mmol, rng.uniform(0.50, 0.65))
    serum = None
    if measured:
        serum = round(mmol, 2) if unit == "mmol/L" else round(mmol * MG_PER_DL_PER_MMOL, 1)
    lab_low, lab_high = NM_LAB_RANGE[unit or "mg/dL"] if measured else (None, None)
    return {
        "patient_id": pid,
        "age": age,
        "sex": sex_cell(rng, female, 0.3),
        "pregnant": "yes" if special == "pregnant" else ("no" if female and age <= 50 else None),
        "serum_mg": serum,
        "serum_mg_unit": unit if measured else None,
        "ref_low": lab_low,
        "ref_high": lab_high,
        "egfr": None if rng.random() < 0.1 else round(clamp(crcl, 12, 150)),
        "diagnoses": join_list(rng, dx),
        "medications": join_list(rng, meds),
        "symptoms": join_symptoms(rng, [symptom(rng, key) for key in dict.fromkeys(sx)]),
        "supplement_form": form,
        "supplement_dose_mg": dose,
        "route": route,
    }


def build_neuromuscular_clinic(rng: Scribe) -> Workbook:
    groups = list(NM_GROUPS)
    rng.shuffle(groups)
    mg_rows = [i for i, g in enumerate(groups) if g == "myasthenia"]
    special = dict(zip(rng.sample(mg_rows, 5), ("iv", "blank_unit", "mmol", "mmol", "pregnant"), strict=True))
    other = [i for i, g in enumerate(groups) if g not in ("myasthenia",) and i not in special]
    special[next(i for i in other if groups[i] == "cidp")] = "iv"
    special[next(i for i in other if groups[i] == "lems")] = "blank_unit"
    special[next(i for i in other if groups[i] == "als")] = "mmol"
    ordinary_mg_rows = [i for i in mg_rows if i not in special]
    advanced = dict(zip(rng.sample(ordinary_mg_rows, len(NM_MG_ADVANCED)), NM_MG_ADVANCED, strict=True))
    rows = [nm_patient(rng, f"NM-{i + 1:04d}", group, special.get(i), advanced.get(i))
            for i, group in enumerate(groups)]
    return patients_workbook(NM_COLUMNS, rows)


# ---------------------------------------------------------------------------------------------
# 3. Primary care list
# ---------------------------------------------------------------------------------------------

PC_COLUMNS = [
    ("Patient ID", "patient_id", 11), ("Age", "age", 10), ("DOB", "date_of_birth", 11),
    ("Assessment date", "assessment_date", 15), ("Sex", "sex", 7), ("Pregnant", "pregnant", 9),
    ("Breastfeeding", "lactating", 13), ("Magnesium", "serum_mg", 14), ("eGFR", "egfr", 7),
    ("Dialysis", "dialysis", 8), ("Problem list", "diagnoses", 34),
    ("Medication list", "medications", 55), ("Symptoms", "symptoms", 30),
    ("Supplement type", "supplement_form", 15), ("Supplement dose (mg/day)", "supplement_dose_mg", 12),
]
PC_AGE_BANDS = (((16, 29), 12), ((30, 44), 18), ((45, 64), 32), ((65, 79), 26), ((80, 97), 12))
PC_DOTLESS_P = 0.08  # share of rows whose ICD codes were typed without dots ("E119", "N184", "K900")

HIV_REGIMENS = {
    "Isentress": ["Isentress", "Truvada"],
    "raltegravir": ["raltegravir 400 mg bd", "Descovy"],
    "Tivicay": ["Tivicay", "Descovy"],
    "dolutegravir": ["dolutegravir 50 mg", "lamivudine"],
    "Triumeq": ["Triumeq"],
    "Dovato": ["Dovato"],
    "Juluca": ["Juluca"],
    "Biktarvy": ["Biktarvy"],
    "bictegravir": ["bictegravir/emtricitabine/tenofovir alafenamide"],
    "cabotegravir": ["cabotegravir 30 mg", "rilpivirine 25 mg"],
    "Genvoya": ["Genvoya"],
    "elvitegravir": ["elvitegravir/cobicistat/emtricitabine/tenofovir alafenamide"],
}
CANCER_REGIMENS = {  # drug -> (diagnosis key, other drugs)
    "cetuximab": ("colorectal_cancer", ["ondansetron"]),
    "panitumumab": ("colorectal_cancer", ["ondansetron"]),
    "cisplatin": ("laryngeal_cancer", ["ondansetron"]),
    "carboplatin": ("ovarian_cancer", ["paclitaxel"]),
}

# Rare profiles that must appear at least once: (forced conditions, age range).
PC_FORCED = (
    [({"hiv": regimen}, (24, 66)) for regimen in HIV_REGIMENS]
    + [({"hiv": "Biktarvy", "pentamidine": True}, (30, 55)),
       ({"transplant": "tacrolimus", "foscarnet": True}, (35, 65)),
       ({"amphotericin": True}, (45, 75))]
    + [({"aminoglycoside": drug}, ages) for drug, ages in
       (("tobramycin", (18, 32)), ("tobramycin", (18, 32)), ("gentamicin", (60, 82)), ("amikacin", (60, 82)))]
    + [({"cancer": drug}, (45, 78)) for drug in CANCER_REGIMENS]
    + [({"transplant": drug}, (30, 68)) for drug in ("tacrolimus", "ciclosporin", "sirolimus")]
    + [({"itp": True}, (25, 80))] * 3
    + [({"penicillamine": "wilson"}, (18, 40)), ({"penicillamine": "rheumatoid"}, (55, 78))]
    + [({"ckd": "ckd4", "sps": True}, (65, 88)), ({"ckd": "ckd4", "dotless": True}, (60, 85))]
    + [({"t2dm": True, "dotless": True}, (45, 75)), ({"celiac": True, "dotless": True}, (20, 60))]
    + [({"heart_block": key}, (68, 92)) for key in ("heart_block_2", "heart_block_3", "complete_heart_block",
                                                     "heart_block", "bradycardia")]
    + [({"ckd": "ckd6"}, (50, 80))] * 2
    + [({"gitelman": True}, (20, 45))] * 2
    + [({"ckd": stage, "hypermagnesaemia": True}, (75, 92)) for stage in ("ckd4", "ckd5")]
    + [({"short_bowel": True}, (35, 70)), ({"bariatric": True}, (28, 60))]
    + [({"sex": "F", "pregnant": True}, (20, 40))] * 2 + [({"sex": "F", "lactating": True}, (22, 38))] * 3
)

# Children and infants, written out one by one (ages as the brief and clinicians write them).
PC_CHILDREN = (
    {"age": "8 mo", "female": True, "dx": [], "meds": [], "sx": []},
    {"age": "18 months", "female": False, "dx": ["constipation"], "meds": ["lactulose"], "sx": ["constipation"]},
    {"age": 2, "female": True, "dx": [], "meds": ["salbutamol"], "sx": []},
    {"age": 4, "female": False, "dx": ["asthma"], "meds": ["salbutamol", "beclometasone"], "sx": []},
    {"age": 6, "female": False, "dx": ["constipation"], "meds": ["Movicol"], "sx": ["constipation"],
     "supplement": ("magnesium citrate", 200)},           # above the UL of 110 mg for age 4-8
    {"age": 6, "female": True, "dx": ["asthma"], "meds": ["salbutamol"], "sx": ["cramps"]},
    {"age": 9, "female": False, "dx": [], "meds": [], "sx": ["headache", "sleep"],
     "supplement": ("glycinate", 100)},
    {"age": 11, "female": True, "dx": ["migraine"], "meds": ["paracetamol", "ibuprofen"], "sx": ["headache"],
     "supplement": ("Mg glycinate", 200)},
    {"age": 13, "female": False, "dx": [], "meds": [], "sx": ["anxiety", "sleep"]},
    {"age": 15, "female": True, "dx": ["acne"], "meds": ["doxycycline"], "sx": []},
    {"age": 15, "female": False, "dx": ["asthma"], "meds": ["salbutamol", "montelukast"], "sx": []},
    {"dob_age": 5, "female": True, "dx": [], "meds": [], "sx": ["constipation"]},
)


def pc_child(rng: Scribe, spec: dict) -> dict:
    row = {
        "age": spec.get("age"),
        "sex": sex_cell(rng, spec["female"], 0.1),
        "diagnoses": join_list(rng, [diagnosis(rng, key) for key in spec["dx"]]),
        "medications": join_list(rng, [med(rng, key) for key in spec["meds"]]),
        "symptoms": join_symptoms(rng, [symptom(rng, key) for key in spec["sx"]]),
    }
    if "dob_age" in spec:
        row["date_of_birth"] = birth_date(rng, spec["dob_age"])
    if "supplement" in spec:
        row["supplement_form"], row["supplement_dose_mg"] = spec["supplement"]
    if isinstance(row["age"], int) and row["age"] >= 6 and rng.random() < 0.5:
        row["serum_mg"] = serum_text(rng, true_serum(rng, 0.0, 0.7, 1.0), rng.choice(("mmol/L", "mg/dL")))
    return row


def birth_date(rng: Scribe, age: int) -> dt.date:
    """A date of birth giving exactly `age` completed years on ASSESSMENT_DATE."""
    last_birthday = ASSESSMENT_DATE.replace(year=ASSESSMENT_DATE.year - age)
    return last_birthday - dt.timedelta(days=rng.randint(1, 364))


def pc_adult(rng: Scribe, forced: dict | None = None, age_range: tuple[int, int] | None = None) -> dict:
    forced = forced or {}
    band = age_range or rng.choices(*zip(*PC_AGE_BANDS, strict=True))[0]
    age = rng.randint(*band)
    female = forced.get("sex") == "F" or ("sex" not in forced and rng.random() < 0.52)
    dx: list[str] = []
    meds: dict[str, str] = {}   # key -> written form (one entry per drug)
    sx: list[str] = []
    shift = 0.0
    ckd = forced.get("ckd")

    def has(key: str, p: float) -> bool:
        return key in forced or rng.random() < p

    dotless = "dotless" in forced or rng.random() < PC_DOTLESS_P

    def add_dx(key: str) -> None:
        dx.append(diagnosis(rng, key, dotless))

    def add_med(key: str, dose_p: float = 0.35) -> None:
        if key not in meds:
            meds[key] = med(rng, key, dose_p, typos=True)

    childbearing = female and 18 <= age <= 42 and not forced
    pregnant = "pregnant" in forced or (childbearing and rng.random() < 0.09)
    lactating = "lactating" in forced or (childbearing and not pregnant and rng.random() < 0.07)
    chronic = 0.3 if pregnant or lactating else 1.0  # fewer chronic conditions in young mothers
    if pregnant:
        for key, p in (("folic acid", 0.6), ("iron", 0.4)):
            if rng.random() < p:
                add_med(key)
        sx += [key for key, p in (("cramps", 0.35), ("constipation", 0.3), ("fatigue", 0.3), ("sleep", 0.2))
               if rng.random() < p]
    if lactating:
        if rng.random() < 0.2:
            add_med("iron")
        sx += [key for key, p in (("fatigue", 0.3), ("sleep", 0.3)) if rng.random() < p]

    # cardiovascular, metabolic and kidney
    if not ckd and rng.random() < clamp(0.01 + 0.005 * (age - 45), 0, 0.3):
        ckd = rng.choices(("ckd3a", "ckd3b", "ckd4", "ckd5", "ckd6"), (45, 25, 15, 6, 9))[0]
    severe_ckd = ckd in ("ckd4", "ckd5", "ckd6")  # no metformin or bisphosphonates
    if rng.random() < chronic * clamp(0.02 + 0.011 * (age - 30), 0, 0.65):
        add_dx("hypertension")
        choices = (["labetalol", "nifedipine"] if pregnant else  # no ACE inhibitors or diuretics in pregnancy
                   ["lisinopril", "amlodipine", "hydrochlorothiazide", "indapamide", "ramipril", "losartan",
                    "nifedipine", "diltiazem", "bisoprolol"])
        for key in rng.sample(choices, rng.choice((1, 1, 2))):
            add_med(key)
            shift -= 0.04 if key in ("hydrochlorothiazide", "indapamide") else 0
    neuropathy = False
    if has("t2dm", chronic * clamp(0.01 + 0.004 * (age - 25), 0, 0.25)):
        neuropathy = rng.random() < 0.15
        add_dx("diabetic_neuropathy" if neuropathy else "t2dm")
        add_med("insulin glargine" if severe_ckd else "metformin")
        if age > 50 and rng.random() < 0.2:
            add_med("insulin glargine")
        if rng.random() < 0.6:
            add_med("atorvastatin")
        if neuropathy:
            add_med("gabapentin")
        shift -= 0.03
    if age > 45 and rng.random() < chronic * 0.12:
        if rng.random() < 0.5:
            add_dx("hyperlipidaemia")
        add_med(rng.cycle(("atorvastatin", "simvastatin")))
    if ckd:
        add_dx(ckd)
        shift += CKD_SERUM_SHIFT[ckd]
        if rng.random() < (0.5 if ckd in ("ckd4", "ckd5", "ckd6") else 0.2):
            add_med("furosemide")
            shift -= 0.05
        if has("sps", 0.15 if ckd in ("ckd4", "ckd5") else 0):
            add_med("sodium polystyrene sulfonate")
    if age > 55 and rng.random() < clamp(0.005 * (age - 55), 0, 0.15):
        add_dx("heart_failure")
        if rng.random() < 0.9:
            add_med(rng.cycle(("furosemide", "bumetanide", "furosemide", "torsemide", "furosemide")))
            shift -= 0.05
        if rng.random() < 0.35:
            add_med(rng.cycle(("spironolactone", "eplerenone", "spironolactone")))
        if rng.random() < 0.7:
            add_med(rng.cycle(("bisoprolol", "metoprolol")))
        if rng.random() < 0.6:
            add_med(rng.cycle(("lisinopril", "ramipril")))
        if rng.random() < 0.12:
            add_med("digoxin")
    if age > 60 and rng.random() < clamp(0.004 * (age - 55), 0, 0.15):
        add_dx("atrial_fibrillation")
        add_med(rng.cycle(("apixaban", "warfarin", "apixaban")))
        add_med(rng.cycle(("metoprolol", "verapamil", "bisoprolol", "digoxin", "diltiazem", "metoprolol",
                           "bisoprolol", "digoxin")))
    if "heart_block" in forced or (age > 65 and rng.random() < 0.012):
        add_dx(forced.get("heart_block") or rng.choice(("heart_block_2", "heart_block_3", "bradycardia")))
    if age > 55 and rng.random() < 0.1:
        add_med("aspirin")

    # gastrointestinal, alcohol and other magnesium losses
    if rng.random() < 0.10 + 0.003 * max(age - 30, 0):
        if rng.random() < 0.4:
            add_dx("gord")
        add_med(rng.choices(PPIS, (45, 15, 25, 15))[0])
        shift -= 0.05
    if 25 <= age <= 75 and rng.random() < chronic * 0.025:
        add_dx("alcohol")
        if rng.random() < 0.6:
            add_med("thiamine")
        if rng.random() < 0.25:
            add_med(rng.cycle(("naltrexone", "acamprosate")))
        sx += [key for key, p in (("tremor", 0.4), ("sleep", 0.4), ("anxiety", 0.3)) if rng.random() < p]
        shift -= 0.10
    for key, p, drugs in (("celiac", 0.012, []), ("ulcerative_colitis", 0.01, ["mesalazine"]),
                          ("crohns", 0.01, ["azathioprine"]), ("bariatric", 0.012, ["vitamin B12"]),
                          ("short_bowel", 0.002, ["loperamide"])):
        if has(key, p * chronic):
            add_dx(key)
            for drug in drugs:
                add_med(drug)
            if key != "celiac" and rng.random() < 0.5:
                sx.append("diarrhoea")
            shift -= 0.10
    if has("gitelman", 0):
        add_dx("gitelman")
        add_med("potassium chloride")
        add_med(rng.cycle(("spironolactone", "amiloride")))
        sx += ["cramps", "fatigue"]
        shift -= 0.35
    if has("hypermagnesaemia", 0):
        add_dx("hypermagnesaemia")
        add_med("magnesium hydroxide")  # an antacid or laxative, the usual source
        shift += 0.6

    # endocrine, bone, mental health, respiratory
    if rng.random() < (0.10 if female else 0.025) * (1.5 if age > 50 else 1.0):
        add_dx("hypothyroid")
        add_med("levothyroxine")
    if age >= 55 and rng.random() < (0.15 if female else 0.02):
        add_dx("osteoporosis")
        if not severe_ckd:
            add_med(rng.cycle(("alendronate", "risedronate", "alendronate", "ibandronate", "alendronate")))
        if severe_ckd or rng.random() < 0.5:
            add_med("vitamin D")
    if rng.random() < 0.12:
        anxious = rng.random() < 0.5
        add_dx("anxiety" if anxious else "depression")
        add_med(rng.cycle(("sertraline", "citalopram", "sertraline", "mirtazapine")))
        if anxious and rng.random() < 0.7:
            sx.append("anxiety")
    if rng.random() < 0.05:
        add_dx("insomnia")
        if rng.random() < 0.4:
            add_med("zopiclone")
        sx.append("sleep")
    if rng.random() < (0.08 if female and 20 <= age <= 55 else 0.02):
        add_dx("migraine")
        if rng.random() < 0.5:
            add_med("sumatriptan")
        if rng.random() < 0.7:
            sx.append("headache")
    if rng.random() < 0.06:
        add_dx("asthma" if age < 60 or rng.random() < 0.4 else "copd")
        add_med("salbutamol")
        if rng.random() < 0.2:
            add_med("prednisolone")
    if age > 30 and rng.random() < 0.01:
        add_dx("somatic_symptom")
        sx += ["fatigue", "palpitations", "headache"]
    if not neuropathy and rng.random() < 0.04:
        add_med(rng.cycle(("gabapentin", "pregabalin", "gabapentin")))
    if not female and age > 40 and rng.random() < 0.03:
        add_dx("gout")
        add_med("allopurinol")
    if not female and age > 55 and rng.random() < 0.1:
        add_dx("bph")
        add_med("tamsulosin")
    if age >= 60 and rng.random() < 0.05:
        add_dx("constipation")
        add_med(rng.cycle(("lactulose", "senna")))
        sx.append("constipation")
    if rng.random() < 0.08 + 0.002 * age:
        add_med("paracetamol")

    # short courses of antibiotics and iron (no tetracyclines or quinolones in pregnancy)
    if age < 30 and not pregnant and rng.random() < 0.06:
        add_dx("acne")
        add_med(rng.cycle(("minocycline", "doxycycline", "lymecycline", "doxycycline")))
    if 35 <= age <= 70 and not pregnant and rng.random() < 0.015:
        add_dx("rosacea")
        add_med("doxycycline")
    if rng.random() < (0.04 if female else 0.015):
        add_dx("recurrent_uti")
        add_med("nitrofurantoin" if pregnant else rng.cycle(("ciprofloxacin", "nitrofurantoin", "ciprofloxacin")))
    if age > 50 and rng.random() < 0.012:
        add_dx("pneumonia")
        add_med(rng.cycle(("levofloxacin", "moxifloxacin")))
    if rng.random() < (0.08 if female and age < 50 else 0.03):
        add_dx("iron_deficiency")
        add_med("iron")

    # specialist drugs, from the hospital letter
    if "hiv" in forced:
        add_dx("hiv")
        for drug in HIV_REGIMENS[forced["hiv"]]:
            add_med(drug)
    if has("pentamidine", 0):
        add_med("pentamidine")
    if "transplant" in forced or rng.random() < chronic * 0.006:
        add_dx("kidney_transplant")
        add_med(forced.get("transplant") or rng.cycle(("tacrolimus", "ciclosporin", "tacrolimus")))
        add_med("mycophenolate")
        add_med("prednisolone")
        shift -= 0.08
        ckd = ckd or "ckd3a"
    if has("foscarnet", 0):
        add_dx("cmv")
        add_med("foscarnet")
        shift -= 0.08
    if has("amphotericin", 0):
        add_dx("aml")
        add_dx("aspergillosis")
        add_med("amphotericin B")
        shift -= 0.1
    if "aminoglycoside" in forced:
        add_dx({"tobramycin": "cystic_fibrosis", "gentamicin": "bronchiectasis", "amikacin": "ntm"}
               [forced["aminoglycoside"]])
        add_med(forced["aminoglycoside"])
        shift -= 0.05
    if "cancer" in forced or (age > 45 and rng.random() < 0.008):
        drug = forced.get("cancer") or rng.choice(list(CANCER_REGIMENS))
        if drug == "carboplatin":
            female = True
        cancer, others = CANCER_REGIMENS[drug]
        add_dx(cancer)
        for key in [drug, *others]:
            add_med(key)
        shift -= 0.15 if drug in ("cetuximab", "panitumumab", "cisplatin") else 0.06
    if has("itp", 0.002):
        add_dx("itp")
        add_med("eltrombopag")
    if "penicillamine" in forced:
        add_dx(forced["penicillamine"])
        add_med("penicillamine")
    if rng.random() < 0.016:
        add_med(rng.cycle(UNKNOWN_DRUGS))

    # symptoms nobody coded, and a few negations
    for key, p in (("cramps", 0.15 if age >= 60 else 0.05), ("fatigue", 0.08), ("sleep", 0.05),
                   ("anxiety", 0.03), ("twitching", 0.015), ("palpitations", 0.02), ("headache", 0.03),
                   ("brain_fog", 0.02)):
        if rng.random() < p:
            sx.append(key)
    sx = list(dict.fromkeys(sx))
    phrases = [symptom(rng, key) for key in sx][:3]
    if "cramps" not in sx and rng.random() < 0.03:
        phrases.append(symptom(rng, "negation"))

    form = dose = None
    if "gitelman" in forced:
        form, dose = "chloride", rng.choice((300, 400))
    elif rng.random() < 0.10 + (0.1 if {"cramps", "sleep", "anxiety"} & set(sx) else 0):
        form = supplement(rng, sx if rng.random() < 0.85 else ["rare"])
        dose = rng.choice(SUPPLEMENT_DOSES)
        dose = None if rng.random() < 0.08 else (f"{dose} mg" if rng.random() < 0.06 else dose)

    ckd_range = CKD_EGFR.get(ckd)
    egfr = rng.randint(*ckd_range) if ckd_range else adult_egfr(rng, age)
    monitored = bool(ckd or len(meds) >= 3 or age >= 65 or shift < -0.04)
    mmol = true_serum(rng, shift, 0.35, 1.7)
    serum = None
    if "hypermagnesaemia" in forced or rng.random() < (0.85 if monitored else 0.5):
        serum = serum_text(rng, mmol, rng.choices(("mmol/L", "mg/dL", "mEq/L"), (50, 38, 12))[0])
    drug_list = list(meds.values())
    rng.shuffle(drug_list)
    return {
        "age": age,
        "sex": sex_cell(rng, female, 0.12),
        "pregnant": (rng.choice(("yes", "Y", "x")) if pregnant
                     else (rng.choice((None, None, "no", "N")) if female and age <= 50 else None)),
        "lactating": "yes" if lactating else (rng.choice((None, None, None, "no")) if female and age <= 50 else None),
        "serum_mg": serum,
        "egfr": egfr if (ckd or rng.random() < (0.9 if monitored else 0.45)) else None,
        "dialysis": "yes" if ckd == "ckd6" else (rng.choice((None, "no")) if ckd else None),
        "diagnoses": join_list(rng, dx),
        "medications": join_list(rng, drug_list),
        "symptoms": join_symptoms(rng, phrases),
        "supplement_form": form,
        "supplement_dose_mg": dose,
        "_mmol": mmol if serum else None,
        "_forced": bool(forced),
    }


def build_primary_care(rng: Scribe) -> Workbook:
    n = 500
    rows = [pc_adult(rng, forced, ages) for forced, ages in PC_FORCED]
    rows += [pc_adult(rng) for _ in range(n - len(PC_FORCED) - len(PC_CHILDREN))]
    adults = list(rows)
    rows += [pc_child(rng, spec) for spec in PC_CHILDREN]
    rng.shuffle(rows)

    # Input problems the reader must report, on ordinary rows.
    measured = [r for r in adults if r["_mmol"] is not None and not r["_forced"]]
    lowest = min(measured, key=lambda r: r["_mmol"])
    lowest["serum_mg"] = "<0.3 mmol/L"
    picks = rng.sample([r for r in measured if r is not lowest], 7)
    for row, value in zip(picks, ("15 mmol/L", "30 mg/dL", "0.05 mmol/L", 0.7, 0.82, 1.9, 2.1), strict=True):
        row["serum_mg"] = value  # three implausible values and four numbers without a unit
    ordinary = [r for r in adults if not r["_forced"]]
    dob_rows = rng.sample(ordinary, 48)
    for row in dob_rows:
        row["date_of_birth"] = birth_date(rng, row["age"])
        row["age"] = None
    odd_ages = rng.sample([r for r in ordinary if r["age"] is not None], 2)
    odd_ages[0]["age"], odd_ages[1]["age"] = "abc", " "

    for i, row in enumerate(rows, 1):
        row["patient_id"] = f"PC-{i:04d}"
        row["assessment_date"] = ASSESSMENT_DATE
    return patients_workbook(PC_COLUMNS, rows)


# ---------------------------------------------------------------------------------------------
# 4. Blank template
# ---------------------------------------------------------------------------------------------

TEMPLATE_FIELD_COUNT = 17  # patient_id ... ref_high
TEMPLATE_ROWS = 1000
SUPPLEMENT_FORM_CHOICES = ("oxide", "citrate", "glycinate", "malate", "L-threonate", "chloride", "lactate",
                           "taurate", "aspartate", "gluconate", "glycerophosphate", "carbonate",
                           "hydroxide", "sulfate")
TEMPLATE_CHOICES = {  # field name -> (choices, strict)
    "sex": (("F", "M"), True),
    "pregnant": (("yes", "no"), True),
    "lactating": (("yes", "no"), True),
    "dialysis": (("yes", "no"), True),
    "serum_mg_unit": (("mmol/L", "mg/dL", "mEq/L"), True),
    "route": (("oral", "iv"), True),
    "supplement_form": (SUPPLEMENT_FORM_CHOICES, False),
}
# What to enter in each column (clinical-rules.md section 1).
TEMPLATE_HELP = {
    "patient_id": ("Any text, echoed back on the result row. Use a clinic or study number, not a name.",
                   "PT-0001"),
    "age": ("Years, as a number. Infants: '6 mo' or '18 months'. Or leave blank and add date_of_birth "
            "and assessment_date columns.", "54"),
    "sex": ("F or M (female, male, woman, man are also read).", "F"),
    "pregnant": ("yes or no (y, n, true, false, 1, 0, x are also read). Blank = not stated.", "no"),
    "lactating": ("yes or no, as for pregnant.", "no"),
    "serum_mg": ("The value WITH its unit, e.g. '0.62 mmol/L', '1.5 mg/dL', '1.3 mEq/L'; or a plain number "
                 "with the unit in serum_mg_unit. A number with no unit anywhere is NOT used and is reported "
                 "as 'unit missing': 0.7 mmol/L is mildly low, but 0.7 mg/dL (0.29 mmol/L) is dangerously low.",
                 "0.68 mmol/L"),
    "serum_mg_unit": ("mmol/L, mg/dL or mEq/L: the unit of serum_mg, ref_low and ref_high on this row. "
                      "1 mmol/L = 2.4305 mg/dL = 2 mEq/L.", "mmol/L"),
    "egfr": ("eGFR or creatinine clearance in mL/min (/1.73 m²), a number from 0 to 200.", "72"),
    "dialysis": ("yes or no.", "no"),
    "diagnoses": ("ICD-10-CM codes and/or names, separated by ; , / or new lines (Alt+Enter).",
                  "G35.A; E11.9"),
    "medications": ("Generic or brand names, separated by ; , / or new lines. Doses after a name are ignored.",
                    "omeprazole 20 mg; Tivicay"),
    "symptoms": ("Free words, separated the same way: cramps, insomnia, anxiety, brain fog, fatigue, "
                 "constipation, diarrhoea, ...", "cramps; poor sleep"),
    "supplement_form": ("Salt form of the magnesium supplement taken now (pick from the list).", "glycinate"),
    "supplement_dose_mg": ("Dose taken now, in mg of ELEMENTAL magnesium per day (as on the Supplement Facts "
                           "label), not the weight of the salt.", "200"),
    "route": ("oral (the default when blank) or iv (planned intravenous magnesium).", "oral"),
    "ref_low": ("Optional: your lab's lower reference limit, in the unit of serum_mg. Overrides the default "
                "(0.75 mmol/L).", "0.70"),
    "ref_high": ("Optional: your lab's upper reference limit, in the unit of serum_mg. Overrides the default "
                 "(1.05 mmol/L).", "1.00"),
    # optional columns
    "date_of_birth": ("A date. With assessment_date, gives the age when the age cell is blank.", "1961-03-20"),
    "assessment_date": ("The date the row refers to (the visit or the blood sample).", "2026-11-01"),
    "supplement_compound_mg": ("The supplement dose as the weight of the salt (e.g. 400 for 'magnesium oxide "
                               "400 mg'); converted with the elemental % of supplement_form.", "400"),
    "ref_range": ("Your lab's range as low-high in the unit of serum_mg, instead of ref_low and ref_high; used "
                  "only when plausible.", "0.70-1.00"),
    "creatinine": ("Serum creatinine WITH its unit, mg/dL or umol/L (1 mg/dL = 88.4 umol/L). With eGFR blank it "
                   "gives eGFR by CKD-EPI 2021 (age 18 or over, sex known, not pregnant, no AKI, no dialysis). A "
                   "number with no unit is not used.", "1.1 mg/dL"),
    "serum_mg_date": ("The date of the serum magnesium result. A result older than 90 days counts for the risk, "
                      "not for the dose decision: at moderate or high risk, or when it was low, the decision is to "
                      "repeat it first.", "2026-10-28"),
    "egfr_date": ("The date of the eGFR. An eGFR older than 365 days is used, with 'recheck eGFR'.", "2026-09-15"),
    "creatinine_date": ("The date of the creatinine result.", "2026-09-15"),
}
TEMPLATE_NOTES = (
    "One row per patient on the Patients sheet. Keep the header row; empty cells are allowed.",
    "Serum magnesium needs a unit: in the cell, in serum_mg_unit, or in the header (e.g. 'serum_mg (mmol/L)'). "
    "The tool never guesses the unit from the size of the number.",
    "Lists (diagnoses, medications, symptoms) may be separated by ; , / or new lines within the cell.",
    "Anything the tool cannot read or recognise is listed on the row, never silently dropped.",
    "The flags support, and do not replace, clinical judgement.",
)


def load_fields() -> list[dict]:
    with FIELDS_TOML.open("rb") as f:
        return tomllib.load(f)["field"]


def build_template() -> Workbook:
    fields = load_fields()
    columns = fields[:TEMPLATE_FIELD_COUNT]
    wb = Workbook()
    ws = wb.active
    ws.title = "Patients"
    write_table(ws, [(f["name"], f["name"], max(12, len(f["name"]) + 4)) for f in columns], [])
    ws.auto_filter.ref = None
    for c, field in enumerate(columns, 1):
        if field["name"] not in TEMPLATE_CHOICES:
            continue
        choices, strict = TEMPLATE_CHOICES[field["name"]]
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                            showErrorMessage=True, errorStyle="stop" if strict else "warning",
                            errorTitle=field["label"], error="Choose one of: " + ", ".join(choices),
                            showInputMessage=True, promptTitle=field["name"][:32], prompt=field["label"])
        letter = get_column_letter(c)
        dv.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
        ws.add_data_validation(dv)

    info = wb.create_sheet("Instructions")
    info["A1"] = "How to fill in the Patients sheet"
    info["A1"].font = Font(bold=True, size=14)
    row = 3
    for note in TEMPLATE_NOTES:
        info.cell(row, 1, note)
        row += 1
    row += 1
    for c, header in enumerate(("Column", "Meaning", "What to enter", "Example"), 1):
        cell = info.cell(row, c, header)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for i, field in enumerate(fields):
        if i == TEMPLATE_FIELD_COUNT:
            row += 2
            info.cell(row, 1, "Optional columns you may add at the right").font = HEADER_FONT
        row += 1
        text, example = TEMPLATE_HELP.get(field["name"], ("", ""))
        for c, value in enumerate((field["name"], field["label"], text, example), 1):
            info.cell(row, c, value).alignment = WRAP
    for letter, width in (("A", 22), ("B", 40), ("C", 90), ("D", 24)):
        info.column_dimensions[letter].width = width
    # printing: landscape, each sheet one page wide, the header row on every page, page numbers
    for sheet, area in ((ws, f"A1:{get_column_letter(len(columns))}21"), (info, f"A1:D{row}")):
        sheet.page_setup.orientation = "landscape"
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.print_area = area
        sheet.print_options.gridLines = sheet is ws  # the blank rows print as a grid to fill in by hand
        sheet.oddFooter.left.text, sheet.oddFooter.center.text = "&A", "Page &P of &N"
    ws.print_title_rows = "1:1"
    return wb


# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else HERE
    out_dir.mkdir(parents=True, exist_ok=True)
    builders = {
        "ms_clinic": lambda: build_ms_clinic(Scribe(SEEDS["ms_clinic"])),
        "neuromuscular_clinic": lambda: build_neuromuscular_clinic(Scribe(SEEDS["neuromuscular_clinic"])),
        "primary_care": lambda: build_primary_care(Scribe(SEEDS["primary_care"])),
        "template": build_template,
    }
    for name, build in builders.items():
        path = out_dir / f"{name}.xlsx"
        save_workbook(build(), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
