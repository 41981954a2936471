"""``python -m mgdecision.batch`` runs the command line."""

from .cli import main

raise SystemExit(main())
