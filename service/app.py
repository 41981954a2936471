"""The HTTP layer: FastAPI routes around :mod:`.hooks` (pure) and :mod:`.audit` (SQLite).

    GET  /cds-services                  discovery (services and their prefetch templates)
    POST /cds-services/{id}             a hook call (CDS Hooks request, or a FHIR Bundle); ?cards=all for every card
    POST /cds-services/{id}/feedback    accepted / overridden cards, checked against the cards issued
    GET  /healthz                       the service and its database answer, and issued cards are being written

Every error is a FHIR ``OperationOutcome`` with its HTTP status (400 bad request, 401 token refused, 404 unknown
service, 412 no patient data, 413 over the size budget, 415 not JSON, 422 over the time budget), never a
traceback. A hook call is answered by a plain ASGI handler in front of the routes (:class:`_HookCalls`). A light
call (a few conditions and medications) is assessed on the event loop; any other in a pool of worker threads, off
the event loop, with a time and a size budget, so one heavy request never stalls the others. The answer is kept
for the request content that determines it (:mod:`.memo`): a chart opened again gets the same cards, with fresh
uuids and recorded as issued, without being assessed again. Logs are JSON lines with the ``hookInstance`` as
correlation id and no patient data: the hook, status, card count and time only (:func:`json_logging` writes them
in batches from a thread of its own).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import logging
import math
import re
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar
from urllib.parse import parse_qsl

import anyio
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import mgdecision as mg

from .audit import FLUSH_SECONDS, FeedbackStore
from .hooks import (
    SERVICES,
    BadRequest,
    ServiceError,
    UnknownCard,
    check_request,
    count_list_resources,
    discovery,
    evaluate,
    read_feedback,
)
from .memo import Answer, AnswerMemo, answer_of, instance_cut, issued_rows, parse
from .security import AuthConfig, AuthError, verify

__all__ = ["MAX_BODY_BYTES", "JsonLogFormatter", "LineWriter", "ServiceConfig", "create_app", "json_logging",
           "settle"]

MAX_BODY_BYTES = 16 * 1024 * 1024  # 16 MiB: a 5 MB Bundle fits with room to spare
log = logging.getLogger("mgdecision.service")
_JSON_TYPES = ("application/json", "application/fhir+json")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_INSTANCE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_T = TypeVar("_T")
LOG_SECONDS = 0.05  # log lines are written within about this time
_INLINE_BYTES = 64 * 1024  # bodies up to this size are read on the event loop, and a kept answer given there
# A light call (within both bounds) is assessed on the event loop too, without the hand-over to a worker thread
# and back (that costs about as much again as assessing it, and more as threads contend for the interpreter).
# It takes a millisecond or two (some 30 ms at worst, each item a name never read before); anything heavier is
# assessed in a worker thread under the time budget, so it never holds up the other calls.
_LIGHT_BYTES, _LIGHT_ITEMS = 16 * 1024, 16
# Feedback on a card not (yet) known is looked up again after these pauses: another worker process writes the
# cards it issued within FLUSH_SECONDS
_UNKNOWN_CARD_WAITS = (2 * FLUSH_SECONDS, 6 * FLUSH_SECONDS, 12 * FLUSH_SECONDS)


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service is configured with (``mgdecision serve --help`` documents each)."""

    db_path: str | Path
    max_body: int = MAX_BODY_BYTES
    max_items: int = 2000  # Conditions and medication resources in one request (the size budget)
    time_budget: float = 10.0  # seconds of evaluation per request
    workers: int = 4  # evaluations at once (threads); more wait their turn
    kept_answers: int = 2048  # answers kept for the content that determines them (0: every call is assessed)
    cors_origins: Sequence[str] = ()  # no browser origin by default
    auth: AuthConfig = field(default_factory=AuthConfig)


class _TooLarge(ServiceError):
    status = 413


class _NotJson(ServiceError):
    status = 415


class _OverTime(ServiceError):
    status = 422


_ISSUE_CODES = {400: "invalid", 401: "security", 404: "not-found", 412: "not-found", 413: "too-costly",
                415: "not-supported", 422: "too-costly", 500: "exception"}


def _error(status: int, message: str) -> JSONResponse:
    """A FHIR OperationOutcome (CDS Hooks' recommended error body)."""
    outcome = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "error", "code": _ISSUE_CODES.get(status, "processing"), "diagnostics": message}]}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(outcome, status_code=status, media_type="application/fhir+json", headers=headers)


def _no_constant(name: str) -> Any:
    raise BadRequest(f"malformed JSON: {name} is not a JSON number")


def _parse(raw: bytes) -> Any:
    """The JSON body; BadRequest saying what is wrong with it."""
    if not raw.strip():
        raise BadRequest("the request body is empty; send JSON")
    try:  # decoded strictly: json.loads(bytes) would let UTF-8-encoded surrogates through
        body = json.loads(raw.decode(json.detect_encoding(raw)), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadRequest("malformed JSON: nested too deeply") from None
    except ValueError as exc:  # an integer over Python's digit limit
        raise BadRequest(f"malformed JSON: {str(exc).split(';')[0]}") from None
    if _SURROGATE.search(raw):  # a lone surrogate cannot be written back as UTF-8
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("the request holds a lone UTF-16 surrogate (\\ud800-\\udfff); not text") from None
    return body


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _read(raw: bytes) -> tuple[Any, tuple[str, ...] | None, tuple[bytes, bytes] | None]:
    """(the JSON body, the JSON text of the content that determines its cards or None, the body around its
    hookInstance value when :func:`instance_cut` finds that very value, else None); BadRequest as :func:`_parse`
    says."""
    found = parse(raw, _DECODER) if not _SURROGATE.search(raw) else None
    if found is None:
        return _parse(raw), None, None
    body, content, instance = found
    cut = instance_cut(raw) if instance is not None else None
    if cut is None or (len(cut[0]), len(raw) - len(cut[1])) != instance:
        return body, content, None
    return body, content, cut[:2]


def _days() -> tuple[date, date]:
    """The day in UTC (the assessment date given to the FHIR reader) and here (the core's default)."""
    return datetime.now(UTC).date(), date.today()


def _check_headers(content_type: str, declared: str | None, limit: int) -> None:
    """A JSON media type, and a Content-Length (when given) within the limit."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in _JSON_TYPES:
        raise _NotJson(f"send the body as application/json (or application/fhir+json), not '{kind or 'none'}'")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise _TooLarge(f"the request body is over the limit of {limit} bytes")


async def _json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    _check_headers(request.headers.get("content-type", ""), declared, limit)
    body = await request.body() if declared is not None else await _streamed(request, limit)
    if len(body) > limit:
        raise _TooLarge(f"the request body is over the limit of {limit} bytes")
    return body


async def _streamed(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class _Disconnected(Exception):
    """The client went away before its request was read."""


async def _asgi_body(headers: Mapping[bytes, bytes], receive: Receive, limit: int) -> bytes:
    """The request body read from the ASGI messages, checked as :func:`_json_body` does."""
    declared = headers.get(b"content-length")
    _check_headers(headers.get(b"content-type", b"").decode("latin-1"),
                   declared.decode("latin-1") if declared is not None else None, limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by (lower-case) name; the first of a name given twice, as Starlette reads them."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name, value)
    return found


def _query(scope: Scope, name: str) -> str | None:
    """The (last) value of a query parameter, as Starlette reads it."""
    query = scope.get("query_string", b"")
    if not query:
        return None
    return dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get(name)


class _HookCalls:
    """Pure ASGI in front of the app's routes: ``POST /cds-services/{id}`` goes straight to the hook call (it
    needs no routing, request object or exception middleware); everything else goes on to the routes."""

    PREFIX = "/cds-services/"

    def __init__(self, app: ASGIApp, call: Callable[[str, Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app, self.call = app, call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = _route_path(scope)
            if path.startswith(self.PREFIX) and "/" not in (service_id := path[len(self.PREFIX):]) and service_id:
                await self.call(service_id, scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Routed:
    """The hook call as the endpoint of its route (an ASGI app taking the service id from the path)."""

    def __init__(self, call: Callable[[str, Scope, Receive, Send], Awaitable[None]]) -> None:
        self.call = call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.call(scope["path_params"]["service_id"], scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the routes see (without the root path), as Starlette takes it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root) or path == root:
        return "" if root and path == root else path
    return path[len(root):] if path[len(root)] == "/" else path


def _unexpected(exc: BaseException, where: str) -> JSONResponse:
    """A 500 with an incident id; the log gets the exception type and the code lines, not its message or data."""
    incident = uuid.uuid4().hex[:12]
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("internal error", extra={"service": where, "incident": incident, "exception": type(exc).__name__,
                                       "frames": frames})
    return _error(500, f"internal error (incident {incident}); the request was not processed")


def _instance(body: Any) -> str | None:
    value = body.get("hookInstance") if isinstance(body, dict) else None
    return value if isinstance(value, str) and _INSTANCE.fullmatch(value) else None


def create_app(db_path: str | Path | ServiceConfig, *, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """The service as an ASGI app, storing issued cards and feedback in the SQLite file ``db_path`` (or as
    configured by a :class:`ServiceConfig`)."""
    config = db_path if isinstance(db_path, ServiceConfig) else ServiceConfig(db_path, max_body=max_body)
    store = FeedbackStore(config.db_path)
    pool = ThreadPoolExecutor(config.workers, thread_name_prefix="mgdecision-service")
    limiter = anyio.CapacityLimiter(config.workers)  # the same bound under an event loop other than asyncio's

    async def off_loop(fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in one of ``config.workers`` threads, so the event loop keeps answering meanwhile."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio
            return await anyio.to_thread.run_sync(fn, *args, limiter=limiter, abandon_on_cancel=True)
        return await loop.run_in_executor(pool, fn, *args)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown(wait=False, cancel_futures=True)  # an evaluation over its time budget is not waited for
        store.close()

    app = FastAPI(title="mgdecision CDS Hooks service", version=mg.__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.store = store
    app.state.config = config
    services_body = json.dumps(discovery()).encode()

    def authorised(request: Request) -> JSONResponse | None:
        try:
            verify(config.auth, request.headers.get("authorization"))
        except AuthError as exc:
            return _error(401, str(exc))
        return None

    @app.get("/cds-services")
    async def services() -> Response:
        return Response(services_body, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            version = await off_loop(lambda: store.schema_version)
        except Exception:
            return _error(500, "the database cannot be read")
        if store.write_error:
            return _error(500, "issued cards cannot be written to the database; they are kept in memory")
        return JSONResponse({"status": "ok", "knowledgeVersion": mg.KNOWLEDGE_VERSION, "schemaVersion": version})

    memo = AnswerMemo(max_entries=config.kept_answers)  # by the content that determines the cards
    by_body = AnswerMemo(max_entries=config.kept_answers)  # by the body around its hookInstance (memo.instance_cut)
    app.state.memo, app.state.memo_by_body = memo, by_body

    def too_large() -> _TooLarge:
        return _TooLarge(f"the request holds more than {config.max_items} conditions and medications; "
                         "send the current ones only")

    def work(service_id: str, raw: bytes, everything: bool) -> tuple[bytes, int, str | None]:
        """A hook call of a large body, read in a worker thread (its answer is not kept: a kept answer is looked
        up only for a body of at most _INLINE_BYTES)."""
        body = _parse(raw)
        return *respond(service_id, body, None, everything), _instance(body)

    def respond(service_id: str, body: Any, content: tuple[str, ...] | None, everything: bool,
                items: int | None = None, cut: tuple[bytes, bytes] | None = None) -> tuple[bytes, int]:
        """Assess and answer a hook call; the answer is kept for its content. ``items``: the request's
        Conditions and medication resources, when counted already."""
        items = count_list_resources(body) if items is None else items
        if items > config.max_items:
            raise too_large()
        days = _days()
        result = evaluate(service_id, body, everything=everything, today=days[0])
        encoded = json.dumps(result.body, ensure_ascii=False, allow_nan=False).encode()  # before any is issued
        rows = issued_rows(result)
        store.issue_rows(service_id, rows)
        if content is not None and config.kept_answers > 0 and _days() == days:  # (not when the day changed)
            answer = answer_of(result, encoded, items)
            if answer is not None:
                memo.put(memo.key(service_id, everything, days, content), answer)
                if cut is not None:
                    by_body.put(by_body.key(service_id, everything, days, cut), answer)
        return encoded, len(rows)

    def kept(service_id: str, body: Any, content: tuple[str, ...], everything: bool,
             cut: tuple[bytes, bytes] | None) -> tuple[bytes, int] | None:
        """The kept answer for this content today, with fresh uuids and its cards issued; None when none is
        kept. The request is checked as any other is."""
        days = _days()
        answer = memo.get(memo.key(service_id, everything, days, content))
        if answer is None:
            return None
        if answer.items > config.max_items:
            raise too_large()
        check_request(service_id, body)
        if cut is not None:
            by_body.put(by_body.key(service_id, everything, days, cut), answer)
        return given(service_id, answer)

    def given(service_id: str, answer: Answer) -> tuple[bytes, int]:
        """A kept answer with fresh uuids, its cards issued."""
        encoded, rows = answer.render()
        store.issue_rows(service_id, rows)
        return encoded, answer.cards

    def kept_for_body(service_id: str, raw: bytes, everything: bool) -> tuple[bytes, int, str] | None:
        """The kept answer for a body read before but for its hookInstance (:func:`memo.instance_cut`): it reads
        as that body did, checks as that body did, and gets the same cards, so it is neither read nor checked
        again. None when there is none."""
        cut = instance_cut(raw)
        answer = by_body.get(by_body.key(service_id, everything, _days(), cut[:2])) if cut is not None else None
        if answer is None or cut is None:
            return None
        if answer.items > config.max_items:
            raise too_large()
        return *given(service_id, answer), cut[2]

    async def hook_call(service_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /cds-services/{id}``, as a plain ASGI app."""
        try:
            response = await call(service_id, scope, receive)
        except _Disconnected:
            return
        await response(scope, receive, send)

    async def call(service_id: str, scope: Scope, receive: Receive) -> Response:
        """A hook call."""
        started = time.perf_counter()
        if service_id not in SERVICES:
            return _error(404, f"no service '{service_id}'; GET /cds-services lists them")
        headers = _headers(scope)
        authorization = headers.get(b"authorization")
        try:
            verify(config.auth, authorization.decode("latin-1") if authorization is not None else None)
        except AuthError as exc:
            log.info("refused", extra={"service": service_id, "status": 401})
            return _error(401, str(exc))
        instance = None
        try:
            raw = await _asgi_body(headers, receive, config.max_body)
            everything = _query(scope, "cards") == "all"
            if memo and len(raw) <= _INLINE_BYTES and (again := kept_for_body(service_id, raw, everything)):
                answer, count, instance = again
            elif len(raw) <= _INLINE_BYTES:
                body, content, cut = _read(raw)
                instance = _instance(body)
                found = kept(service_id, body, content, everything, cut) if content is not None and memo else None
                if found is None and len(raw) <= _LIGHT_BYTES and (items := count_list_resources(body)) <= min(
                        _LIGHT_ITEMS, config.max_items):  # assessed at once, here: a thread would cost more
                    found = respond(service_id, body, content, everything, items, cut)
                if found is None:
                    with anyio.fail_after(config.time_budget):
                        found = await off_loop(respond, service_id, body, content, everything, None, cut)
                answer, count = found
            else:
                with anyio.fail_after(config.time_budget):
                    answer, count, instance = await off_loop(work, service_id, raw, everything)
        except TimeoutError:
            log.warning("over the time budget", extra={"service": service_id, "status": 422})
            return _error(422, f"the request took longer than the time budget of {config.time_budget:g} s; "
                               "send a smaller record")
        except _Disconnected:
            raise
        except ServiceError as exc:
            log.info("answered", extra={"service": service_id, "status": exc.status, "hookInstance": instance,
                                        "ms": round((time.perf_counter() - started) * 1000, 1)})
            return _error(exc.status, str(exc))
        except Exception as exc:
            return _unexpected(exc, service_id)
        log.info("answered", extra={"service": service_id, "status": 200, "cards": count, "hookInstance": instance,
                                    "ms": round((time.perf_counter() - started) * 1000, 1)})
        return Response(answer, media_type="application/json")

    app.router.routes.append(Route("/cds-services/{service_id}", _Routed(hook_call), methods=["POST"]))  # GET: 405
    app.add_middleware(_HookCalls, call=hook_call)  # inside CORS (added after: outer)
    if config.cors_origins:  # browser CDS clients (the CDS Hooks sandbox) at the configured origins only
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> Response:
        if service_id not in SERVICES:
            return _error(404, f"no service '{service_id}'; GET /cds-services lists them")
        if (refused := authorised(request)) is not None:
            return refused
        try:
            raw = await _json_body(request, config.max_body)

            def store_feedback() -> int:
                items = read_feedback(_parse(raw), store.issued)
                return store.append(service_id, items, mg.KNOWLEDGE_VERSION)

            for wait in _UNKNOWN_CARD_WAITS:
                try:
                    stored = await off_loop(store_feedback)
                    break
                except UnknownCard:  # issued by another worker process moments ago: in the file once it has written
                    await anyio.sleep(wait)
            else:
                stored = await off_loop(store_feedback)
        except ServiceError as exc:
            log.info("feedback", extra={"service": service_id, "status": exc.status})
            return _error(exc.status, str(exc))
        except Exception as exc:
            return _unexpected(exc, f"{service_id} feedback")
        log.info("feedback", extra={"service": service_id, "status": 200, "items": stored})
        return JSONResponse({"stored": stored})

    return app


def _sample_call() -> dict[str, Any]:
    """A small patient-view call touching each part of the reading and the assessment."""
    subject = {"reference": "Patient/sample"}
    coded = {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7646",
             "display": "omeprazole 20 MG Delayed Release Oral Capsule"}
    return {"hook": "patient-view", "hookInstance": "sample", "context": {"patientId": "sample"}, "prefetch": {
        "patient": {"resourceType": "Patient", "id": "sample", "birthDate": "1950-01-01", "gender": "female"},
        "serumMagnesium": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Observation", "status": "final", "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "2601-3"}]},
            "effectiveDateTime": "2026-01-01T09:00:00Z",
            "valueQuantity": {"value": 0.6, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                              "code": "mmol/L"}}}]},
        "conditions": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Condition", "subject": subject, "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I10"}]}}}]},
        "medicationStatements": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "MedicationStatement", "status": "active", "subject": subject,
            "medicationCodeableConcept": {"coding": [coded]}}}]}}}


def settle() -> None:
    """Before a server process takes calls: one sample call is assessed (the knowledge and the readers' tables
    load now, not during the first calls), then every object made so far is left out of the garbage collector's
    full collections (:func:`gc.freeze`): they would scan these long-lived objects, pausing every call in flight
    for tens of milliseconds."""
    evaluate("magnesium-patient-view", _sample_call())
    gc.collect()
    gc.freeze()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the request fields (no patient data)."""

    FIELDS = ("service", "status", "cards", "items", "ms", "hookInstance", "incident", "exception", "frames")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
                                 "logger": record.name, "message": record.getMessage()}
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if value is not None and not (isinstance(value, float) and not math.isfinite(value)):
                entry[name] = value
        return json.dumps(entry, ensure_ascii=False)


class LineWriter(logging.Handler):
    """Writes records as lines from a thread of its own, the records of each ``interval`` in one write: a request
    only appends its record, and the thread wakes once per batch, not once per line. Stopped (and drained) at exit;
    closing it (as a logging reconfiguration does) writes what waits and leaves it working."""

    def __init__(self, stream: TextIO, interval: float = LOG_SECONDS) -> None:
        super().__init__()
        self.stream, self.interval = stream, interval
        self._records: deque[logging.LogRecord] = deque()
        self._due = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="mgdecision-log", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def handle(self, record: logging.LogRecord) -> bool:  # no lock needed: a deque's append is atomic
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        if record.args:  # the message as it is now (its arguments might change before it is written)
            record.msg, record.args = record.getMessage(), None
        self._records.append(record)
        if not self._due.is_set():
            self._due.set()

    def _run(self) -> None:
        while not self._closing:
            self._due.wait()
            if not self._closing:
                time.sleep(self.interval)  # let the lines of this moment gather
            self._due.clear()
            self.write()

    def write(self) -> None:
        """Write the records waiting (in the calling thread)."""
        lines = []
        while self._records:
            record = self._records.popleft()
            try:
                lines.append(self.format(record) + "\n")
            except Exception:
                self.handleError(record)
        if lines:
            with self.lock:  # type: ignore[union-attr]
                try:
                    self.stream.write("".join(lines))
                    self.stream.flush()
                except Exception:
                    self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} log line(s) not written"}))

    def flush(self) -> None:
        self.write()

    def close(self) -> None:
        self.write()
        super().close()

    def stop(self) -> None:
        """Write what waits and end the thread."""
        self._closing = True
        self._due.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.write()


def json_logging(level: str) -> LineWriter:
    """Log JSON lines (:class:`JsonLogFormatter`) to standard error from a background thread (:class:`LineWriter`):
    writing them never holds up the event loop."""
    handler = LineWriter(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    return handler
