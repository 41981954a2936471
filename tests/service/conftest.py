"""Start the real service (``mgdecision serve`` in a subprocess) on 127.0.0.1 with a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``mgdecision serve`` process; ``log`` is everything it wrote."""

    def __init__(self, db: Path, log: Path, *extra: str) -> None:
        self.db, self.log_path = db, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mgdecision.batch", "serve", "--port", str(self.port), "--db", str(db), *extra],
            stdout=self._log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not start:\n{self.log}")
            time.sleep(0.1)

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_once(self, text: str, timeout: float = 10.0) -> str:
        """The log once it holds ``text`` (lines are written by a background thread, a moment after the answer)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        return log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("service")
    s = Server(folder / "feedback.sqlite3", folder / "server.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
