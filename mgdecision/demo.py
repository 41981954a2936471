"""``python -m mgdecision.demo``: assess a few sample patients and print what the tool says."""

from __future__ import annotations

import mgdecision as mg

PATIENTS = [
    {
        "patient_id": "MS-demo",
        "age": 52,
        "sex": "F",
        "serum_mg": "0.62 mmol/L",
        "egfr": 75,
        "diagnoses": "G35.A; type 2 diabetes",
        "medications": "Prilosec 20 mg, furosemide",
        "symptoms": "cramps; insomnia",
    },
    {
        "patient_id": "MG-demo",
        "age": 61,
        "sex": "M",
        "Serum Mg (mg/dL)": 1.9,
        "eGFR": 80,
        "Dx": "G70.00",
        "Meds": "Mestinon 60 mg tds",
        "symptoms": "muscle cramps",
    },
    {
        "patient_id": "SSD-demo",
        "age": 34,
        "sex": "F",
        "serum_mg": 0.7,
        "diagnoses": "F45.1",
        "medications": "Vibramycin; zzqmed",
        "symptoms": "anxiety; palpitations",
    },
]


def main() -> None:
    for row in PATIENTS:
        print(mg.assess(row))
        print("-" * 100)


if __name__ == "__main__":
    main()
