"""Batch front-end: a clinic's workbook in, a flagged workbook out (``mgdecision assess``).

    from mgdecision.batch import RunOptions, assess_file
    result = assess_file(RunOptions(Path("clinic.xlsx")))   # writes clinic.flagged.xlsx

See :mod:`mgdecision.batch.cli` for the command line and its exit codes.
"""

from .export import write_assessed
from .run import RunOptions, RunResult, assess_file

__all__ = ["RunOptions", "RunResult", "assess_file", "write_assessed"]
