"""mgdecision CDS Hooks 2.0 service (``pip install mgdecision[service]``; ``mgdecision serve``).

    from mgdecision.service import create_app
    app = create_app("feedback.sqlite3")      # an ASGI app: uvicorn, or any ASGI server

The clinical content comes from :func:`mgdecision.assess` only: FHIR R4 data (prefetch or a posted Bundle) are
read by :func:`mgdecision.from_fhir` into a patient row, and the assessment's cards are sent as CDS Hooks cards.

Exceptions (all :class:`mgdecision.MgDecisionError`): ``hooks.ServiceError`` with ``status``; its subclasses
``hooks.BadRequest`` (400) and ``hooks.PreconditionFailed`` (412). They become JSON error responses.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_BODY_BYTES", "create_app"]


def __getattr__(name: str) -> Any:  # FastAPI is imported only when the app is wanted (not for `audit export`)
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
