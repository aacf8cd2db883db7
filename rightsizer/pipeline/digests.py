"""Ingest's part of log file integrity validation: the digest files beside the logs are read
and kept in the store (they hold no events), so that ``run`` can check the logs it used against
them. Local folders and S3 prefixes alike; a digest already stored as it is now is not read
again. While the logs are ingested, the digests are read beside them (``DigestReading``)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import fields
from typing import Any

from rightsizer.errors import SourceError
from rightsizer.sources import digests
from rightsizer.sources.locate import DeliveryFolder, Scope, folders_read_whole
from rightsizer.sources.s3 import S3Options
from rightsizer.store.database import BadFile, Store

log = logging.getLogger(__name__)

__all__ = ["DigestReading", "ingest_digests"]

_BATCH = 500
_QUEUED = 2_000  # digests read and waiting to be stored, at most
_COLUMNS = tuple(f.name for f in fields(digests.DigestFile) if f.name != "log_files")


def ingest_digests(folders: Iterable[str], store: Store, scope: Scope,
                   s3_options: S3Options | None, run_id: str) -> tuple[int, list[BadFile]]:
    """Read the digest files under ``folders`` (local ``CloudTrail-Digest/`` folders or
    ``s3://`` prefixes) that the scope selects and the store does not hold as they are;
    return how many were read, and the folders or files that could not be."""
    reading = DigestReading(folders, store, scope, s3_options)
    return reading.finish(store, run_id)


class DigestReading:
    """Digests read in a thread of their own while the logs are ingested: the listing and the
    store's check of what it holds happen here (the store's connection stays with its thread),
    the reading and parsing in the thread, and the rows are stored by ``drain`` and ``finish``,
    between ingest transactions. At most ``_QUEUED`` digests wait, so memory stays bounded."""

    def __init__(self, folders: Iterable[str], store: Store, scope: Scope,
                 s3_options: S3Options | None) -> None:
        self.bad: list[BadFile] = []
        self.read = 0
        self._queue: queue.Queue[tuple[dict[str, Any] | None, BadFile | None] | None] = (
            queue.Queue(maxsize=_QUEUED))
        self._stop = threading.Event()
        todo: list[tuple[str, str]] = []
        # Date folders whose every digest is to be stored: recorded as read whole by finish.
        self._listed_folders: list[DeliveryFolder] = []
        client = None
        for folder in dict.fromkeys(folders):
            listing: Iterator[tuple[str, str] | DeliveryFolder]
            if folder.startswith("s3://"):
                from rightsizer.sources import s3

                client = client or s3.make_client(s3_options or S3Options())
                listing = _guarded(digests.s3_digests(client, folder, scope), folder, self.bad)
            else:
                local = folder.rstrip("/")
                listing = digests.local_digests(
                    local, scope, store.read_folders(local, scope.delivery_days()))
            batch: list[tuple[str, str]] = []
            for item in listing:
                if isinstance(item, DeliveryFolder):
                    if not item.known:
                        self._listed_folders.append(item)
                    continue
                batch.append(item)
                if len(batch) >= _BATCH:
                    todo += _unread(batch, store)
                    batch = []
            todo += _unread(batch, store)
        self._todo = todo
        self._thread = threading.Thread(target=self._run, args=(todo, client),
                                        name="digests", daemon=True)
        self._thread.start()

    def _run(self, todo: list[tuple[str, str]], client: Any) -> None:
        try:
            for uri, fingerprint in todo:
                if self._stop.is_set():
                    return
                self._queue.put(_parse(uri, fingerprint, client))
        finally:
            self._queue.put(None)

    def drain(self, store: Store, run_id: str, *, wait: bool = False) -> None:
        """Store the digests read so far (with ``wait``, every one, until the thread ends)."""
        rows: list[dict[str, Any]] = []
        failed: list[BadFile] = []
        while True:
            try:
                item = self._queue.get(block=wait)
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # the end stays visible to a later drain
                break
            row, problem = item
            if row is not None:
                rows.append(row)
            if problem is not None:
                failed.append(problem)
        store.record_digests(rows)
        store.record_bad(failed, run_id)
        self.bad.extend(failed)
        self.read += len(rows)

    def finish(self, store: Store, run_id: str) -> tuple[int, list[BadFile]]:
        """Every digest stored: how many were read, and what could not be."""
        self.drain(store, run_id, wait=True)
        self._thread.join()
        whole = folders_read_whole(self._listed_folders, (b.uri for b in self.bad),
                                   self._todo, store.digests_read)
        store.record_read_folders([(f.path, f.fingerprint, f.files, f.delivery_date)
                                   for f in whole], run_id)
        return self.read, self.bad

    def cancel(self) -> None:
        """Stop reading (ingest failed): nothing more is stored."""
        self._stop.set()
        while self._thread.is_alive():
            with suppress(queue.Empty):
                self._queue.get(timeout=0.1)


def _unread(batch: list[tuple[str, str]], store: Store) -> list[tuple[str, str]]:
    done = store.digests_read(batch)
    return [(uri, fingerprint) for uri, fingerprint in batch if uri not in done]


def _parse(uri: str, fingerprint: str, client: Any
           ) -> tuple[dict[str, Any] | None, BadFile | None]:
    """One digest as the store's row, and its problem if any."""
    try:
        digest = (digests.read_s3_digest(client, uri, fingerprint) if uri.startswith("s3://")
                  else digests.read_local_digest(uri, fingerprint))
    except Exception as exc:  # botocore's errors: named, and the next digest is read
        from rightsizer.sources.aws import describe_aws_error

        return None, BadFile(uri, f"cannot read the digest: {describe_aws_error(exc)}")
    problem = BadFile(uri, digest.problem, fingerprint) if digest.problem else None
    # Field by field: dataclasses.asdict deep-copies, a third of the time on 4,000 digests.
    row = {name: getattr(digest, name) for name in _COLUMNS}
    row["log_files"] = [{"key": f.key, "bucket": f.bucket, "sha256": f.sha256}
                        for f in digest.log_files]
    return row, problem


def _guarded(listing: Iterator[tuple[str, str]], folder: str,
             bad: list[BadFile]) -> Iterator[tuple[str, str]]:
    """A listing that stops, naming the folder, where S3 refuses it."""
    try:
        yield from listing
    except Exception as exc:
        from rightsizer.sources.aws import describe_aws_error

        error = SourceError(f"{folder}: cannot list the digests: {describe_aws_error(exc)}")
        log.error("%s", error)
        bad.append(BadFile(folder, str(error)))
