"""Ctrl-C during a batch run: the run stops at once, cleanly, and says so in one line.

A terminal sends SIGINT to the whole process group, worker processes included. So:

- :func:`stopping_on_ctrl_c` (around the command): the first Ctrl-C raises :class:`KeyboardInterrupt` in the
  main process, and any further one is ignored while the run cleans up (no half-done clean-up);
- :func:`uninterrupted` and :func:`output_complete`: a Ctrl-C that comes while the finished output is moved into
  place waits until the move is done, and then no longer stops the run (the output is complete);
- :func:`quiet_workers` / :func:`ignore_in_worker`: worker processes start with SIGINT blocked and then ignore
  it; the main process stops them (no worker prints a traceback, none is left waiting on a pipe).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["ignore_in_worker", "output_complete", "quiet_workers", "stopping_on_ctrl_c", "uninterrupted"]

_state = {"critical": 0, "deferred": False, "done": False}


def _on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run is stopping: another Ctrl-C must not stop the clean-up
    if _state["critical"] or _state["done"]:
        _state["deferred"] = True
        return
    raise KeyboardInterrupt


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stopping_on_ctrl_c(*, restore: bool = True) -> Iterator[None]:
    """Within: the first Ctrl-C raises KeyboardInterrupt, later ones are ignored. After: the previous handler, or
    (``restore=False``, for a process about to exit) Ctrl-C ignored, so none can interrupt the interpreter's own
    shutdown (which would end the process by the signal, with no word)."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_ctrl_c)
    _state["deferred"] = _state["done"] = False
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if restore else signal.SIG_IGN)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Within: a Ctrl-C does not interrupt (putting the finished output in place is not stopped half-way)."""
    _state["critical"] += 1
    try:
        yield
    finally:
        _state["critical"] -= 1


def output_complete() -> None:
    """The output is in place: from now on a Ctrl-C no longer stops the run (it only has to report)."""
    _state["done"] = True


@contextlib.contextmanager
def quiet_workers() -> Iterator[None]:
    """Within: SIGINT is blocked in this thread, so processes forked here start with it blocked; a Ctrl-C that
    came meanwhile is delivered (as KeyboardInterrupt) on leaving."""
    if not _main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def ignore_in_worker() -> None:
    """The initializer of a worker process: ignore SIGINT (the main process stops the workers), then unblock it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
