"""The HTTP layer: FastAPI routes around :mod:`.hooks` (pure) and :mod:`.audit` (SQLite).

    GET  /cds-services                  discovery (services and their prefetch templates)
    POST /cds-services/{id}             a hook call (CDS Hooks request, or a FHIR Bundle); ?cards=all for every card
    POST /cds-services/{id}/feedback    accepted / overridden cards, appended to the audit database

Bad requests get a JSON ``{"error": ...}`` with 400 (413 for a body over ``max_body`` bytes, 404 for an unknown
service, 412 without patient data), never a traceback. Logs carry the hook, status, card count and time only:
no patient identifier, no request content.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

import mgdecision as mg

from .audit import FeedbackStore, IssuedCards
from .hooks import SERVICES, BadRequest, ServiceError, discovery, evaluate, read_feedback

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 16 * 1024 * 1024  # 16 MiB: a 5 MB Bundle fits with room to spare
log = logging.getLogger("mgdecision.service")


class _TooLarge(ServiceError):
    status = 413


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def _json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise _TooLarge(f"the request body is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise BadRequest("the request body is empty; send JSON")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadRequest("malformed JSON: nested too deeply") from None


def _unexpected(exc: BaseException, where: str) -> JSONResponse:
    """A 500 with an incident id; the log gets the exception type and the code lines, not its message or data."""
    incident = uuid.uuid4().hex[:12]
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s: internal error %s (%s)\n%s", where, incident, type(exc).__name__, frames)
    return _error(500, f"internal error (incident {incident}); the request was not processed")


def create_app(db_path: str | Path, *, max_body: int = MAX_BODY_BYTES) -> FastAPI:
    """The service as an ASGI app, storing feedback in the SQLite file ``db_path``."""
    store = FeedbackStore(db_path)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(title="mgdecision CDS Hooks service", version=mg.__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    # CDS clients such as the public CDS Hooks sandbox call services from the browser.
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["Authorization", "Content-Type"])
    issued = IssuedCards()
    app.state.store = store
    app.state.issued = issued

    @app.get("/cds-services")
    async def services() -> JSONResponse:
        return JSONResponse(discovery())

    @app.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> Response:
        started = time.perf_counter()
        if service_id not in SERVICES:
            return _error(404, f"no service '{service_id}'; GET /cds-services lists them")
        try:
            body = await _json_body(request, max_body)
            everything = request.query_params.get("cards") == "all"
            result = evaluate(service_id, body, everything=everything)
        except ServiceError as exc:
            log.info("%s %d %.1f ms", service_id, exc.status, (time.perf_counter() - started) * 1000)
            return _error(exc.status, str(exc))
        except Exception as exc:
            return _unexpected(exc, service_id)
        issued.add(result.issued)
        log.info("%s 200 %d card(s) %.1f ms", service_id, len(result.issued), (time.perf_counter() - started) * 1000)
        return JSONResponse(result.body)

    @app.post("/cds-services/{service_id}/feedback")
    async def feedback(service_id: str, request: Request) -> Response:
        if service_id not in SERVICES:
            return _error(404, f"no service '{service_id}'; GET /cds-services lists them")
        try:
            items = read_feedback(await _json_body(request, max_body))
            stored = store.append(service_id, items, mg.KNOWLEDGE_VERSION, issued)
        except ServiceError as exc:
            log.info("%s feedback %d", service_id, exc.status)
            return _error(exc.status, str(exc))
        except Exception as exc:
            return _unexpected(exc, f"{service_id} feedback")
        log.info("%s feedback 200 %d item(s)", service_id, stored)
        return JSONResponse({"stored": stored})

    return app
