"""Running the real collector in tests: ``parcours serve`` in a subprocess on loopback.

Every wait is bounded, and the process is always stopped (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PARCOURS = [sys.executable, "-m", "parcours.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PARCOURS, "--db", str(db), *args], capture_output=True, text=True, timeout=180)


def create_key(db: Path, role: str, name: str) -> str:
    """A new key, made in-process (the CLI's own output is tested in test_keys.py)."""
    import parcours
    from parcours.server.keys import create_key as make

    with parcours.open(db) as store:
        return make(store, role, name)


def settled(http: httpx.Client, timeout: float = 60.0) -> None:
    """Wait until every acknowledged event has been applied to the store."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http.get("/metrics").json()["queue_depth"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"events still queued after {timeout}s")


class Server:
    """``parcours --db DB serve`` on a free loopback port, started and awaited."""

    def __init__(self, db: Path, *extra: str, port: int | None = None, wait: bool = True):
        self.db = db
        self.port = port or free_port()  # a restart on the same port lets clients retry to it
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(db.parent / f"serve-{self.port}.log", "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*PARCOURS, "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(self.port), *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if wait:
            self._wait_ready()

    def _wait_ready(self, timeout: float = 180.0) -> None:
        # generous: importing parcours (scikit-learn, numba, ...) takes a minute of wall time
        # on a loaded 2-core machine, though a few seconds of CPU
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.logs()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout}s: {self.logs()}")

    def logs(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.db.parent / f"serve-{self.port}.log").read_text()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
