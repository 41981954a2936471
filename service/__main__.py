"""``python -m mgdecision.service [--host H] [--port P] [--db PATH]``: the same as ``mgdecision serve``."""

from .cli import serve_main

raise SystemExit(serve_main())
