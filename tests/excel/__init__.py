"""Tests of the Excel functions (mgdecision.excel)."""
