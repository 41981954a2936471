"""Excel front-end of mgdecision: worksheet functions for classic xlwings and xlwings Lite.

The functions live in :mod:`mgdecision.excel.udfs` (the xlwings "UDF Modules" entry); cell handling in
:mod:`mgdecision.excel.cells`; the ready workbook is written by :mod:`mgdecision.excel.build_workbook`.
Importing this package imports neither xlwings nor the functions.
"""
