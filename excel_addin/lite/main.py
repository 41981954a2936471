"""xlwings Lite: the mgdecision magnesium functions (=MG_RISK(A2:Y2), =MG_TABLE(A1:Y501), ...).

Paste this file into the xlwings Lite editor's main.py and requirements.txt into its requirements tab
(or build the plugin from it with pyproject.toml, so workbooks need no code: excel_addin/README.md).
The functions live in the mgdecision package; importing them here is all xlwings Lite needs to offer them.
"""

from mgdecision.excel.udfs import (
    MG_CONTRA,
    MG_CONVERT,
    MG_DECISION,
    MG_DOSE,
    MG_ELEMENTAL,
    MG_FLAGS,
    MG_INTERACTIONS,
    MG_RDA,
    MG_RISK,
    MG_TABLE,
    MG_UL,
    MG_WHY,
)

__all__ = [
    "MG_CONTRA",
    "MG_CONVERT",
    "MG_DECISION",
    "MG_DOSE",
    "MG_ELEMENTAL",
    "MG_FLAGS",
    "MG_INTERACTIONS",
    "MG_RDA",
    "MG_RISK",
    "MG_TABLE",
    "MG_UL",
    "MG_WHY",
]
