"""Plain labels are data declared with the output columns (``mgdecision.outputs``), read by every front-end.

The DataFrame and the API keep the machine names; the workbook, the app and the Excel sheet show the labels.
"""

from __future__ import annotations

import pytest

import mgdecision as mg
from mgdecision import outputs
from mgdecision.palette import LEVELS

LEVEL_ENUMS = (mg.RiskLevel, mg.ContraLevel, mg.DoseStatus)


def test_every_output_column_has_a_plain_header() -> None:
    shown = [outputs.header(c) for c in mg.COLUMNS]
    assert all(c in outputs.HEADERS for c in mg.COLUMNS)
    assert len(set(shown)) == len(shown)
    for name, label in zip(mg.COLUMNS, shown, strict=True):
        assert "_" not in label and label[0].isupper() and not label.isupper(), name
        assert outputs.column_of(label) == name == outputs.column_of(name)
    assert outputs.column_of("Age") is None and outputs.column_of(None) is None


def test_every_level_and_status_word_has_a_plain_label() -> None:
    words = {str(v.value) for enum in LEVEL_ENUMS for v in enum} | set(LEVELS)
    assert words <= set(outputs.VALUE_LABELS)
    labels = [outputs.VALUE_LABELS[w] for w in sorted(words)]
    assert len(set(labels)) == len(labels)
    for word in words:
        label = outputs.VALUE_LABELS[word]
        assert "_" not in label and not label.isupper(), word
    examples = {"NOT_INDICATED": "Not indicated", "DO_NOT_SUPPLEMENT": "Do not give", "NONE_FOUND": "None found",
                "REFER": "Refer urgently", "CHECK_SERUM": "Measure serum first"}
    for word, label in examples.items():
        assert outputs.VALUE_LABELS[word] == label


def test_no_plain_header_is_read_as_a_patient_field() -> None:
    """A flagged workbook read again must not take its own output columns for input ("Dose" is a dose)."""
    hmap = mg.map_headers([outputs.header(c) for c in mg.COLUMNS])
    assert dict(hmap.fields) == {} and dict(hmap.near_misses) == {}


@pytest.mark.parametrize("row", [
    {"age": 45, "sex": "M", "diagnoses": "myasthenia gravis", "serum_mg": "0.9 mg/dL"},
    {"age": 30, "sex": "F", "serum_mg": "0.85 mmol/L", "egfr": 100},
    {"age": 70, "sex": "F", "serum_mg": "0.6 mmol/L", "egfr": 10},
])
def test_plain_and_machine_values_round_trip(row: dict) -> None:
    out = mg.assess(row).row()
    for column, value in out.items():
        shown = outputs.plain(column, value)
        assert outputs.machine_value(column, shown) == value
        if column in outputs.LEVEL_COLUMNS:
            assert shown == outputs.VALUE_LABELS[value]
        else:
            assert shown == value or (shown != shown and value != value)  # NaN stays NaN
