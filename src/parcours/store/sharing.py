"""One store, many processes: the server's claim on a store and borrowing the store from it.

DuckDB lets one process open a file for writing, and no other process may even read it
meanwhile. ``parcours serve`` holds its store for as long as it runs, so every other
process (a CLI command, a notebook) borrows the file from it, in turn:

1. The server writes a claim file beside the store (``shop.duckdb.server.json``, mode
   0600): its PID, its local URL and a random key. Whoever can read the store's folder
   as its owner can borrow the store; nobody else learns the key.
2. A process whose ``duckdb.connect`` meets the lock reads the claim and asks the server
   for a lease (``POST /internal/store/leases``). Leases are served one at a time, in
   the order asked. For each, the server first applies every acknowledged event (so
   the borrower reads a current state), pauses its applier, closes its connection and
   answers "granted"; the collector meanwhile keeps acknowledging events into its
   write-ahead log, which the applier applies when the store comes back.
3. The borrower opens the file as usual, runs its command with DuckDB's own
   transactions (nothing is half-applied), and on ``close()`` gives the lease back;
   the server reopens the file. If the borrower dies, the server sees its PID gone
   and takes the file back.

A process waiting for its turn says so on stderr, with what it waits for and for how
long. Without a live server, a store held by another process is waited for in the same
way, for at most ``$PARCOURS_STORE_WAIT`` seconds (default 600).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from parcours.errors import ParcoursError

#: the header that carries the claim's key on the lease endpoints
KEY_HEADER = "X-Parcours-Store-Key"
LEASES_PATH = "/internal/store/leases"


class AlreadyServed(ParcoursError):
    """A second ``parcours serve`` on a store that a live server holds."""


@dataclass(frozen=True)
class Claim:
    """A running server's claim on its store: who it is, where it listens, the lease key."""

    pid: int
    url: str
    key: str


def claim_path(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".server.json")


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        return "\nState:\tZ" not in status
    return True


def read_claim(db_path: str | Path) -> Claim | None:
    """The claim beside the store, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(claim_path(db_path).read_text())
        return Claim(int(data["pid"]), str(data["url"]), str(data["key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def live_claim(db_path: str | Path) -> Claim | None:
    """The claim of a server that still runs (a claim left by a killed server is ignored)."""
    claim = read_claim(db_path)
    return claim if claim is not None and pid_alive(claim.pid) else None


def write_claim(db_path: str | Path, url: str, key: str) -> Claim:
    """Claim the store for this process, atomically; refuse if a live server holds it."""
    path = claim_path(db_path)
    claim = Claim(os.getpid(), url, key)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            other = live_claim(db_path)
            if other is not None and other.pid != os.getpid():
                raise AlreadyServed(
                    f"{db_path}: already served by PID {other.pid} on {other.url}; "
                    "stop that server first, or use it (every command works beside it)"
                ) from None
            path.unlink(missing_ok=True)  # left by a server that was killed
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": claim.pid, "url": claim.url, "key": claim.key}, f)
        return claim
    raise ParcoursError(f"{path}: cannot claim the store (the claim file keeps reappearing)")


def remove_claim(db_path: str | Path) -> None:
    """Remove this process's claim (never another live server's)."""
    claim = read_claim(db_path)
    if claim is not None and claim.pid == os.getpid():
        claim_path(db_path).unlink(missing_ok=True)


def lock_holder(message: str) -> str:
    """'PID n (command)' from DuckDB's lock message, for telling the user who holds the file."""
    m = re.search(r"\(PID (\d+)\)", message)
    if not m:
        return "another process"
    pid = int(m.group(1))
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        command = " ".join(a.decode(errors="replace") for a in argv if a)
    except OSError:
        return f"PID {pid}"
    return f"PID {pid} ({_short(command)})"


def _short(command: str, width: int = 60) -> str:
    return command if len(command) <= width else command[: width - 1] + "…"


def wait_limit() -> float:
    return float(os.environ.get("PARCOURS_STORE_WAIT", "600"))


class Notice:
    """Progress of a wait, on stderr: a line when what we wait for changes, then every 5 s."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.started = time.monotonic()
        self.last_text = ""
        self.last_time = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if text != self.last_text or now - self.last_time >= 5:
            print(f"parcours: {self.db_path}: {text} (waiting {self.elapsed():.0f} s)", file=sys.stderr, flush=True)
            self.last_text, self.last_time = text, now


class Lease:
    """A turn with a store that a server holds: asked for, waited for, given back."""

    def __init__(self, claim: Claim, read_only: bool):
        self.claim = claim
        self.read_only = read_only
        self.id: str | None = None

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 10) -> dict:
        import urllib.request  # here: only a store a server holds is asked for over HTTP; every command opens one

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.claim.url.rstrip("/") + path, data=data, method=method,
                                         headers={KEY_HEADER: self.claim.key, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own local server
            return json.loads(response.read() or b"{}")

    def acquire(self, notice: Notice) -> None:
        """Ask for the store and return once the server has handed it over."""
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        started = time.monotonic()
        while self.id is None:
            try:
                self.id = self._call("POST", LEASES_PATH, {"pid": os.getpid(), "command": _short(command, 120),
                                                           "read_only": self.read_only})["id"]
            except (urllib.error.URLError, OSError) as e:
                # the server may still be starting (its claim is written before it listens)
                if time.monotonic() - started > 30:
                    raise ParcoursError(f"{self.claim.url}: the server holding the store (PID {self.claim.pid}) "
                                        f"does not answer ({e}); wait for it or stop it") from None
                notice(f"store held by parcours serve (PID {self.claim.pid}), which is not answering yet")
                time.sleep(0.5)
        while True:
            status = self._call("GET", f"{LEASES_PATH}/{self.id}?wait=1", timeout=30)
            if status["state"] == "granted":
                return
            notice(_describe(status, self.claim))

    def release(self) -> None:
        if self.id is None:
            return
        with contextlib.suppress(urllib.error.URLError, OSError):  # a server that died has nothing to take back
            self._call("DELETE", f"{LEASES_PATH}/{self.id}")
        self.id = None


def _describe(status: dict, claim: Claim) -> str:
    served = f"parcours serve (PID {claim.pid})"
    if status["state"] == "applying":
        return f"{served} is applying {status.get('backlog', 0)} acknowledged events before handing the store over"
    holder = status.get("holder")
    ahead = status.get("ahead", 0)
    if holder:
        return f"store lent by {served} to PID {holder['pid']} ({holder['command']}); {ahead} ahead of us"
    return f"store held by {served}; {ahead} ahead of us"
