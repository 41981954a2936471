"""Dates as clinicians and lab exports write them: ISO, day and month either way round, month names, a year alone.

A day and month that read both ways ("03/04/2025") is ambiguous: the older reading is the one used, and the later
one is kept so that the reader can say so (clinical-rules.md 9.8). A year alone is 1 January, a month and year the
first of the month (the oldest day they can mean). Two-digit years follow the POSIX rule (00-68: 20xx, 69-99:
19xx). Every pattern is linear: only bounded repetitions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

__all__ = ["DateReading", "find_dates", "read_date", "year_alone"]

FIRST_YEAR, LAST_YEAR = 1900, 2100  # outside these a date is not read
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_LAST = 2958466  # 9999-12-31
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11,
    "dec": 12,
}  # fmt: skip
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_INTRO = r"(?:(?:on|at|collected|coll|drawn|taken|dated|date|sampled|resulted|from)\.?:?\s{0,3}|@\s{0,3})?"
_TIME = r"(?:(?:\s{0,3}T|\s{1,3}|\s{0,3},\s{0,3})\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:\s{0,2}[ap]\.?m\.?)?)?"
_DATE = re.compile(
    r"(?<![\w.,/-])" + _INTRO + r"(?:"
    r"(?P<iy>\d{4})(?P<isep>[-/.])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})"  # 2025-03-04
    r"|(?P<na>\d{1,2})(?P<nsep>[-/.])(?P<nb>\d{1,2})(?P=nsep)(?P<ny>\d{4}|\d{2})"  # 04/03/2025, 3.4.25
    r"|(?P<dd>\d{1,2})" + _ORDINAL + r"[\s-]{0,3}(?P<dm>" + _MONTH + r")\.?[\s,-]{0,3}(?P<dy>\d{4}|\d{2})"  # 4 Mar 25
    r"|(?P<mm>" + _MONTH + r")\.?\s{0,3}(?P<md>\d{1,2})" + _ORDINAL + r",?\s{0,3}(?P<my>\d{4})"  # Mar 4, 2025
    r"|(?P<om>" + _MONTH + r")\.?[\s,-]{0,3}(?P<oy>\d{4})"  # March 2025
    r"|(?P<sm>\d{1,2})/(?P<sy>\d{4})"  # 03/2025
    r")" + _TIME + r"(?!\w|[.,/-]\d)",
    re.I | re.A,
)
_YEAR = re.compile(r"\s{0,3}(?:(?:in|on|from)\s{1,3})?(\d{4})\s{0,3}", re.I | re.A)


@dataclass(frozen=True, slots=True)
class DateReading:
    """A date as read: the date used and, where day and month read both ways, the later reading not used."""

    value: date
    later: date | None = None

    @property
    def ambiguous(self) -> bool:
        return self.later is not None


def _year(text: str) -> int:
    year = int(text)
    return year + (2000 if year < 69 else 1900) if len(text) == 2 else year


def _make(year: int, month: int, day: int) -> date | None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _reading(m: re.Match[str]) -> DateReading | None:
    g = m.group
    if g("iy"):
        found = _make(int(g("iy")), int(g("im")), int(g("id")))
        return DateReading(found) if found else None
    if g("na"):
        year, a, b = _year(g("ny")), int(g("na")), int(g("nb"))
        day_first, month_first = _make(year, b, a), _make(year, a, b)
        if day_first and month_first and day_first != month_first:
            older, later = sorted((day_first, month_first))
            return DateReading(older, later)
        found = day_first or month_first
        return DateReading(found) if found else None
    if g("dd"):
        found = _make(_year(g("dy")), _MONTHS[g("dm")[:3].lower()], int(g("dd")))
    elif g("mm"):
        found = _make(int(g("my")), _MONTHS[g("mm")[:3].lower()], int(g("md")))
    elif g("om"):
        found = _make(int(g("oy")), _MONTHS[g("om")[:3].lower()], 1)
    else:
        found = _make(int(g("sy")), int(g("sm")), 1)
    return DateReading(found) if found else None


def find_dates(text: str) -> Iterator[tuple[int, int, DateReading]]:
    """(start, end, reading) of each date written in ``text``, with a word that introduces it ("on", "collected")
    and a time after it; text that looks like a date but is none (31/02/2025) is not returned."""
    for m in _DATE.finditer(text):
        reading = _reading(m)
        if reading is not None:
            yield m.start(), m.end(), reading


def year_alone(text: str) -> DateReading | None:
    """1 January of the year when ``text`` is a year alone ("2025", "in 2023"), else None."""
    m = _YEAR.fullmatch(text)
    found = _make(int(m.group(1)), 1, 1) if m else None
    return DateReading(found) if found else None


def read_date(value: Any) -> DateReading | None:
    """A date cell: a date or datetime, an Excel serial number, a year alone (1900-2100 as a number or text), or
    text holding one date and nothing else; None when it is none of these."""
    if isinstance(value, datetime):
        return DateReading(value.date())
    if isinstance(value, date):
        return DateReading(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if FIRST_YEAR <= value <= LAST_YEAR and value == int(value):  # a year alone: an Excel serial would be 1905
            return DateReading(date(int(value), 1, 1))
        return DateReading(_EXCEL_EPOCH + timedelta(days=int(value))) if 1 <= value < _EXCEL_LAST else None
    to_pydatetime = getattr(value, "to_pydatetime", None)
    if to_pydatetime is not None:
        try:
            return DateReading(to_pydatetime().date())
        except (TypeError, ValueError, AttributeError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:  # "2025-03-04", "2025-03-04 08:30": an ISO date at the start, whatever follows it
        return DateReading(date.fromisoformat(text[:10]))
    except ValueError:
        pass
    found = year_alone(text)
    if found is not None:
        return found
    dates = list(find_dates(text))
    if len(dates) == 1 and not (text[: dates[0][0]] + text[dates[0][1] :]).strip(" .,;:"):
        return dates[0][2]
    return None
