"""The optional parts of mgdecision (its extras) and the one usage error a missing extra gives.

    require("batch", "mgdecision assess")  # raises MissingExtra, whose message is the pip line, when not installed
    with needed("service", "mgdecision serve"):  # the same, and a library that fails to import in the block
        import uvicorn

What an extra needs is read from the installed package's metadata (``pyproject.toml``), never listed again here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from importlib import metadata

from .errors import UsageError

__all__ = ["MissingExtra", "missing", "needed", "require"]

_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?[^;]*(?:;(.*))?")
_EXTRA = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class MissingExtra(UsageError):
    """A command needs an extra that is not installed; the message ends with the pip line that installs it."""

    def __init__(self, extra: str, command: str, names: Iterable[str] = ()) -> None:
        self.extra, self.command, self.names = extra, command, tuple(names)
        listed = f" ({', '.join(self.names)} not installed)" if self.names else ""
        super().__init__(f'{command} needs the {extra} extra{listed}; install it with: '
                         f'pip install "mgdecision[{extra}]"')


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing(extra: str) -> list[str]:
    """The distributions ``extra`` needs (with the extras it names) that are not installed.

    Empty when mgdecision itself is not installed (run from a source folder): nothing to tell then."""
    try:
        lines = metadata.requires("mgdecision") or []
        known = metadata.metadata("mgdecision").get_all("Provides-Extra") or []
    except metadata.PackageNotFoundError:
        return []
    if extra not in known:
        raise ValueError(f"mgdecision has no extra {extra!r} (extras: {', '.join(known)})")
    out: list[str] = []
    todo, seen = [extra], set()
    while todo:
        wanted = todo.pop()
        if wanted in seen:
            continue
        seen.add(wanted)
        for line in lines:
            m = _REQUIREMENT.match(line)
            if m is None or wanted not in _EXTRA.findall(m.group(3) or ""):
                continue
            name, extras = m.group(1), m.group(2) or ""
            if _normal(name) == "mgdecision":
                todo += [e.strip() for e in extras.split(",") if e.strip()]
            elif name not in out and not _installed(name):
                out.append(name)
    return out


def require(extra: str, command: str) -> None:
    """Raise :class:`MissingExtra` unless every distribution ``extra`` needs is installed."""
    names = missing(extra)
    if names:
        raise MissingExtra(extra, command, names)


@contextlib.contextmanager
def needed(extra: str, command: str) -> Iterator[None]:
    """:func:`require`, then within the block a library that cannot be imported raises :class:`MissingExtra` too
    (an import of mgdecision's own modules is re-raised as it is)."""
    require(extra, command)
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if not top or top == "mgdecision":
            raise
        raise MissingExtra(extra, command, [top]) from exc
