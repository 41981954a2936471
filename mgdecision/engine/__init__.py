"""One rule engine: the rule specification (``knowledge/rules.toml``) run row by row and column by column.

``Engine(knowledge)`` owns a knowledge base, its compiled rules and bounded caches; :func:`default_engine`
is the one ``mg.assess`` and ``mg.assess_frame`` use. ``engine.decide(patient)`` is the row execution
(:mod:`.row`); :func:`assess_columns` the table execution (:mod:`.table`). Conditions are written in a small
language (:mod:`.expr`) compiled for both.
"""

from __future__ import annotations

from .core import Engine, SerumStatus, default_engine, rda_mg, serum_status, ul_mg
from .row import Findings

__all__ = ["Engine", "Findings", "SerumStatus", "default_engine", "rda_mg", "serum_status", "ul_mg"]
