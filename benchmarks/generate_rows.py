"""Deterministic generator of realistic, varied patient rows for benchmarks (no clinical logic here)."""

from __future__ import annotations

import random

DRUGS = [
    "omeprazole 20 mg",
    "Prilosec",
    "pantoprazole",
    "Nexium",
    "furosemide 40mg",
    "Lasix",
    "bumetanide",
    "hydrochlorothiazide",
    "HCTZ 25",
    "indapamide",
    "tacrolimus",
    "ciclosporin",
    "cisplatin",
    "digoxin",
    "Lanoxin",
    "metformin",
    "atorvastatin",
    "lisinopril",
    "amlodipine",
    "metoprolol",
    "aspirin 81 mg",
    "levothyroxine 50 mcg",
    "Synthroid",
    "doxycycline",
    "ciprofloxacin",
    "alendronate",
    "gabapentin 300 mg",
    "Neurontin",
    "spironolactone",
    "ferrous sulfate",
    "sertraline",
    "warfarin",
    "apixaban",
    "baclofen",
    "ocrelizumab",
    "Tecfidera",
    "pyridostigmine",
    "dolutegravir",
    "Biktarvy",
    "mycophenolate",
    "insulin glargine",
    "prednisone",
    "furosemid",
    "omeprazol",
    "xyzmed",
]
DX = [
    "G35",
    "G35.A",
    "G35D",
    "multiple sclerosis",
    "E11.9",
    "E119",
    "type 2 diabetes",
    "I10",
    "hypertension",
    "N18.31",
    "N18.4",
    "N184",
    "K50.90",
    "K90.0",
    "F10.20",
    "G70.00",
    "I44.2",
    "E78.5",
    "F41.1",
    "G47.00",
    "K59.00",
    "F45.1",
    "heart failure",
    "atrial fibrillation",
    "CKD 3b",
    "celiac disease",
    "M99.99",
]
SYMPTOMS = [
    "cramps",
    "insomnia",
    "leg cramps at night",
    "brain fog",
    "fatigue",
    "anxiety",
    "constipation",
    "poor sleep",
    "twitching",
    "diarrhoea",
    "headache",
    "palpitations",
    "no cramps",
    "tremor",
]
FORMS = ["glycinate", "citrate", "oxide", "malate", "Mg glycinate", "threonate", ""]


def serum(rng: random.Random) -> object:
    r = rng.random()
    if r < 0.08:
        return ""
    mmol = max(0.2, rng.gauss(0.84, 0.13))
    if r < 0.55:
        return f"{mmol:.2f} mmol/L"
    if r < 0.9:
        return f"{mmol * 2.4305:.1f} mg/dL"
    if r < 0.97:
        return f"{mmol * 2:.1f} mEq/L"
    return f"{mmol:.2f}"  # unit missing: reported on the row


def rows(n: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sex = rng.choice("FM")
        age = rng.randint(18, 95) if rng.random() > 0.01 else rng.choice(["abc", "8 mo", ""])
        out.append(
            {
                "patient_id": f"P{i:07d}",
                "age": age,
                "sex": sex,
                "pregnant": "yes" if sex == "F" and isinstance(age, int) and age < 45 and rng.random() < 0.05 else "",
                "serum_mg": serum(rng),
                "egfr": rng.randint(8, 130) if rng.random() > 0.05 else "",
                "diagnoses": "; ".join(rng.sample(DX, rng.randint(0, 4))),
                "medications": ", ".join(rng.sample(DRUGS, rng.randint(0, 6))),
                "symptoms": "; ".join(rng.sample(SYMPTOMS, rng.randint(0, 3))),
                "supplement_form": rng.choice(FORMS),
                "supplement_dose_mg": rng.choice(["", 100, 200, 250, 300, 400, 500]),
            }
        )
    return out
