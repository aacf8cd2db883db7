"""One writer per store: a run holds ``<store>.lock`` from its first write to its last.

DuckDB itself lets one process open a database file for writing, but a run opens and closes the
store several times (ingest, inventory, analysis); between two of them another run could slip in
and the two would interleave. The lock is an advisory ``flock`` on a file beside the store, held
for the whole run: the operating system releases it when the process ends, however it ends, so a
killed run never leaves a stale lock. The file names the holder (pid, host, start time) for the
message the second run prints.

The holder removes the file as it lets go, so a finished run leaves nothing beside the store (a
killed one leaves an empty, unlocked file, which the next run takes). Removing a lock file is safe
only with a check: a second run may have opened the file just before it was removed and then
lock an inode no one else can find. So a run that gets the lock checks that the path still names
the file it locked, and opens the path again when it does not.

Re-entrant within a process: ``run`` takes it and the ``ingest`` it calls takes it again.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from rightsizer.errors import StoreError

__all__ = ["StoreBusy", "store_lock"]

_held: dict[Path, int] = {}
_guard = threading.Lock()


class StoreBusy(StoreError):
    """Another run holds the store."""


def lock_path(db: str | Path) -> Path:
    path = Path(db)
    return path.with_name(path.name + ".lock")


@contextmanager
def store_lock(db: str | Path) -> Iterator[None]:
    """Hold the store's lock; StoreBusy at once (no waiting) when another process holds it."""
    path = lock_path(db).resolve()
    with _guard:
        if path in _held:
            _held[path] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[path] -= 1
        return
    fd = _acquire(path, db)
    try:
        holder = (f"pid {os.getpid()} on {socket.gethostname()}, started "
                  f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
        with suppress(OSError):  # a full disk: the lock holds all the same, without its note
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode(), 0)
        with _guard:
            _held[path] = 1
        try:
            yield
        finally:
            with _guard:
                del _held[path]
            with suppress(OSError):
                os.unlink(path)  # still holding the lock: no one can have taken it
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _acquire(path: Path, db: str | Path, attempts: int = 5) -> int:
    """A descriptor of ``path`` holding its flock, the path still naming that file."""
    for _ in range(attempts):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"{db}: cannot create the store's lock file {path}: "
                             f"{exc.strerror or exc}. The store's folder must be writable: make "
                             "it so, or give --db a path in a folder that is") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreBusy(f"{db}: another rightsizer run is using this store ({holder}); "
                            "runs of one store must not overlap: try again when it has "
                            "finished") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed it as we opened it: lock the file now there
    raise StoreBusy(f"{db}: the store's lock file {path} keeps being replaced; is another run "
                    "starting and stopping? Try again")
