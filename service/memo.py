"""Answers kept for the content that determines them, so a chart opened again is answered without assessing it anew.

The cards of a hook call depend only on the service, ``?cards=all``, the request's ``context`` and ``prefetch``
(or the whole body, for a posted FHIR Bundle) and the day it is assessed on (age and how recent a result is
depend on it). :func:`parse` reads the body as :func:`json.loads` does and also gives that content as the JSON
text it was sent as; :class:`AnswerMemo` keeps, for a bounded number of such keys, the encoded response around
its uuids (:class:`Answer`). Each answer given from it gets fresh uuids for its cards and suggestions, and its
cards are recorded as issued like any other; the memo is emptied when the day changes. The request is still
checked in full each time (its hook and hookInstance, the size budget) before a kept answer is given.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from .hooks import HookResult, new_uuids

__all__ = ["Answer", "AnswerMemo", "IssuedRow", "answer_of", "instance_cut", "parse"]

_WS = re.compile(r"[ \t\n\r]*")
# the content that determines the cards of a hook request (everything else is only checked)
_KEY_FIELDS = ("context", "prefetch")

# an issued card as FeedbackStore.issue_rows takes it: uuid, topic, indicator, summary, suggestion uuids (JSON),
# override reason codes (JSON), knowledge version
IssuedRow = tuple[str, str, str, str, str, str, str]


def parse(raw: bytes, decoder: json.JSONDecoder) -> tuple[Any, tuple[str, ...] | None, tuple[int, int] | None] | None:
    """(the body as ``decoder.decode`` reads it, the JSON text of the content that determines its cards or None,
    where the characters of its hookInstance string are in ``raw`` or None), or None when the body is not a plain
    UTF-8 JSON object (the caller reads it the usual way, with its error messages). Keys given twice: the last one
    counts, as in :func:`json.loads`."""
    try:
        text = raw.decode("utf-8")
        end = len(text)
        i = _WS.match(text, 0).end()  # type: ignore[union-attr]
        if text[i] != "{":
            return None
        i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        body: dict[str, Any] = {}
        spans: dict[str, tuple[int, int]] = {}
        if text[i] == "}":
            i += 1
        else:
            scan = decoder.scan_once  # type: ignore[attr-defined]
            while True:
                if text[i] != '"':
                    return None
                key, i = scanstring(text, i + 1, True)
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                if text[i] != ":":
                    return None
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
                body[key], stop = scan(text, i)
                spans[key] = (i, stop)
                i = _WS.match(text, stop).end()  # type: ignore[union-attr]
                if text[i] == "}":
                    i += 1
                    break
                if text[i] != ",":
                    return None
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        if _WS.match(text, i).end() != end:  # type: ignore[union-attr]
            return None
    except Exception:  # malformed, not UTF-8, nested too deeply, ...: read again the usual way
        return None
    if body.get("resourceType") == "Bundle":
        return body, (text,), None
    instance = None
    if isinstance(body.get("hookInstance"), str):  # its characters, between the quotes, as bytes of raw
        start, stop = spans["hookInstance"][0] + 1, spans["hookInstance"][1] - 1
        if text.isascii():
            instance = (start, stop)
        else:
            before = len(text[:start].encode())
            instance = (before, before + len(text[start:stop].encode()))
    if not all(k in spans for k in _KEY_FIELDS):
        return body, None, instance
    return body, tuple(text[slice(*spans[k])] for k in _KEY_FIELDS), instance


_INSTANCE_TOKEN = re.compile(rb'"hookInstance"[ \t\n\r]*:[ \t\n\r]*"([A-Za-z0-9._:-]{1,64})"')


def instance_cut(raw: bytes) -> tuple[bytes, bytes, str] | None:
    """(the body before and after its hookInstance value, that value), found by its last
    ``"hookInstance": "..."`` written with the characters a hookInstance may have, or None.

    A body whose cut is that of a body read before, at the very place :func:`parse` found that body's
    hookInstance, is that body with another hookInstance (the same bytes before it put the reading at the same
    place: inside that string, which the new value, without quotes or backslashes, cannot end early), so it
    gets the same cards (:class:`AnswerMemo` keeps them by the cut too)."""
    at = raw.rfind(b'"hookInstance"')
    found = _INSTANCE_TOKEN.match(raw, at) if at >= 0 else None
    if found is None:
        return None
    return raw[: found.start(1)], raw[found.end(1):], found.group(1).decode()


@dataclass(frozen=True, slots=True)
class Answer:
    """An encoded response with its uuids cut out (``segments`` surround them), and the cards it issues."""

    segments: tuple[bytes, ...]
    issued: tuple[tuple[int, str, str, str, tuple[int, ...], str, str], ...]  # uuid index, ..., suggestion indexes
    items: int  # Conditions and medication resources in the request (the size budget)

    @property
    def cards(self) -> int:
        return len(self.issued)

    def render(self) -> tuple[bytes, list[IssuedRow]]:
        """The response with fresh uuids, and its cards as issued."""
        ids = new_uuids(len(self.segments) - 1)
        segments = self.segments
        parts = [segments[0]]
        for n, card_id in enumerate(ids, 1):
            parts.append(card_id.encode())
            parts.append(segments[n])
        rows = [(ids[u], topic, indicator, summary, json.dumps([ids[s] for s in suggestions]), codes, version)
                for u, topic, indicator, summary, suggestions, codes, version in self.issued]
        return b"".join(parts), rows


def issued_rows(result: HookResult) -> list[IssuedRow]:
    """The cards of a hook call as FeedbackStore.issue_rows takes them."""
    return [(c["uuid"], c["topic"], c["indicator"], c["summary"], json.dumps(c["suggestions"]),
             json.dumps(c["override_codes"]), c["knowledge_version"]) for c in result.issued]


def answer_of(result: HookResult, encoded: bytes, items: int) -> Answer | None:
    """The answer to keep for a hook call's result and its encoded body; None when a uuid cannot be told apart
    (each must occur once in the body, as a JSON string)."""
    ids = [(c["uuid"], tuple(c["suggestions"])) for c in result.issued]
    every = [u for card_id, suggestions in ids for u in (card_id, *suggestions)]
    places = []
    for u in every:
        token = f'"{u}"'.encode()
        at = encoded.find(token)
        if at < 0 or encoded.find(token, at + 1) >= 0:
            return None
        places.append((at + 1, at + len(token) - 1, u))
    places.sort()
    if len(set(every)) != len(every) or len(places) != _count_uuids(result.body):
        return None
    index = {u: n for n, (_, _, u) in enumerate(places)}
    segments, start = [], 0
    for begin, stop, _ in places:
        segments.append(encoded[start:begin])
        start = stop
    segments.append(encoded[start:])
    issued = tuple((index[c["uuid"]], c["topic"], c["indicator"], c["summary"],
                    tuple(index[s] for s in c["suggestions"]), json.dumps(c["override_codes"]),
                    c["knowledge_version"]) for c in result.issued)
    return Answer(tuple(segments), issued, items)


def _count_uuids(value: Any) -> int:
    """How many ``uuid`` members a response body holds (cards and suggestions)."""
    if isinstance(value, list):
        return sum(_count_uuids(v) for v in value)
    if isinstance(value, Mapping):
        return ("uuid" in value) + sum(_count_uuids(v) for v in value.values())
    return 0


class AnswerMemo:
    """Answers by (service, ``everything``, day, the request content that determines them); bounded in count
    and in the size of the keys kept, oldest out first, and emptied when the day changes. Thread-safe."""

    def __init__(self, max_entries: int = 2048, max_chars: int = 32 * 1024 * 1024, max_key: int = 256 * 1024
                 ) -> None:
        self.max_entries, self.max_chars, self.max_key = max_entries, max_chars, max_key
        self._answers: dict[tuple[Any, ...], Answer] = {}
        self._sizes: dict[tuple[Any, ...], int] = {}
        self._chars = 0
        self._day: tuple[date, date] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._answers)

    def __bool__(self) -> bool:  # answers are kept (even while none is)
        return self.max_entries > 0

    @staticmethod
    def key(service_id: str, everything: bool, days: tuple[date, date], content: tuple[str | bytes, ...]
            ) -> tuple[Any, ...]:
        return (service_id, everything, days, *content)

    def get(self, key: tuple[Any, ...]) -> Answer | None:
        return self._answers.get(key)

    def put(self, key: tuple[Any, ...], answer: Answer) -> None:
        size = sum(len(part) for part in key[3:] if isinstance(part, (str, bytes)))
        if size > self.max_key:
            return
        with self._lock:
            if self._day is None or key[2] > self._day:  # a new day: nothing kept from the one before
                self._answers.clear()
                self._sizes.clear()
                self._chars = 0
                self._day = key[2]
            if key[2] != self._day or key in self._answers:  # an answer of the day before, computed late
                return
            self._answers[key] = answer
            self._sizes[key] = size
            self._chars += size
            while len(self._answers) > self.max_entries or self._chars > self.max_chars:
                oldest = next(iter(self._answers))
                del self._answers[oldest]
                self._chars -= self._sizes.pop(oldest)
