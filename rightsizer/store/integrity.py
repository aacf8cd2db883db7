"""The store's part of log file integrity validation: each log file's SHA-256 and the digest
files read, and what the check needs of them over a window. A mixin of ``Store``, which owns
the connection (database.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from rightsizer.store.clock import naive_utc, now
from rightsizer.store.connected import Connected
from rightsizer.store.records import StoredDigest

__all__ = ["IntegrityTables"]


class IntegrityTables(Connected):
    def record_file_hashes(self, hashes: Iterable[tuple[str, str]]) -> None:
        """The SHA-256 of each file read, ``(uri, hex)``; a file read again replaces its own."""
        rows = list(hashes)
        if not rows:
            return
        table = {"uri": ("VARCHAR", [u for u, _ in rows]),
                 "sha256": ("VARCHAR", [h for _, h in rows])}
        self._with_rows("hashes", table,
                        "INSERT OR REPLACE INTO log_file_hashes SELECT uri, sha256, ? "
                        "FROM hashes", [now()])

    def digests_read(self, files: Iterable[tuple[str, str]]) -> set[str]:
        """Of ``(uri, fingerprint)`` pairs, the uris whose digest is stored as it is now."""
        pairs = list(files)
        if not pairs:
            return set()
        table = {"uri": ("VARCHAR", [u for u, _ in pairs]),
                 "fingerprint": ("VARCHAR", [f for _, f in pairs])}
        return {row[0] for row in self._with_rows(
            "wanted", table, "SELECT w.uri FROM wanted AS w "
            "JOIN digest_files AS d USING (uri, fingerprint)")}

    def record_digests(self, digests: Sequence[Mapping[str, Any]]) -> None:
        """Digest files read (``DigestFile`` fields, ``log_files`` a list of dicts): one row
        per uri, the newest read replacing an older one."""
        if not digests:
            return
        columns = ("uri", "fingerprint", "account", "digest_key", "digest_bucket", "start_time",
                   "end_time", "end_time_text", "key_fingerprint", "signature_algorithm",
                   "signature", "content_sha256", "previous_key", "previous_bucket",
                   "previous_sha256", "previous_signature", "problem")
        times = ("start_time", "end_time")
        data: dict[str, tuple[str, list[Any]]] = {
            c: ("TIMESTAMP", [naive_utc(d.get(c)) for d in digests]) if c in times
            else ("VARCHAR", [d.get(c) for d in digests]) for c in columns}
        data["log_files"] = ("VARCHAR", [orjson.dumps(d.get("log_files") or []).decode()
                                         for d in digests])
        names = ", ".join((*columns, "log_files"))
        self._with_rows("digests", data,
                        f"INSERT OR REPLACE INTO digest_files ({names}, read_at) "
                        f"SELECT {names}, ? FROM digests",
                        [now()])

    def digests_between(self, since: datetime | None, until: datetime | None
                        ) -> tuple[StoredDigest, ...]:
        """Digests whose hour overlaps ``[since, until)`` (all with no bounds), readable or not,
        in order of their end."""
        rows = self._con.execute(
            "SELECT uri, account, digest_key, digest_bucket, start_time, end_time, end_time_text, "
            "key_fingerprint, signature_algorithm, signature, content_sha256, previous_key, "
            "previous_sha256, previous_signature, log_files, problem FROM digest_files "
            "WHERE problem IS NOT NULL OR ((? IS NULL OR end_time > ?) "
            "AND (? IS NULL OR start_time < ?)) ORDER BY end_time, digest_key",
            [naive_utc(since), naive_utc(since), naive_utc(until), naive_utc(until)]).fetchall()
        return tuple(
            StoredDigest(uri, account, key, bucket, _aware(start), _aware(end), end_text,
                         fingerprint or "", algorithm or "", signature, sha or "", previous_key,
                         previous_sha, previous_signature,
                         tuple((f["key"], f["sha256"]) for f in orjson.loads(files or "[]")),
                         problem)
            for (uri, account, key, bucket, start, end, end_text, fingerprint, algorithm,
                 signature, sha, previous_key, previous_sha, previous_signature, files,
                 problem) in rows)

    def files_used(self, since: datetime | None, until: datetime | None
                   ) -> dict[str, str | None]:
        """The files the events of ``[since, until)`` came from, with their SHA-256 (None for a
        file read before rightsizer hashed them)."""
        rows = self._con.execute(
            "SELECT s.source, h.sha256 FROM (SELECT DISTINCT source FROM events "
            "WHERE (? IS NULL OR event_time >= ?) AND (? IS NULL OR event_time < ?)) AS s "
            "LEFT JOIN log_file_hashes AS h ON h.uri = s.source",
            [naive_utc(since), naive_utc(since), naive_utc(until), naive_utc(until)]).fetchall()
        return {source: sha for source, sha in rows}

    def files_read(self) -> tuple[str, ...]:
        """Every log file ever read (the ledger, and the files hashed though not read whole)."""
        rows = self._con.execute("SELECT uri FROM ingested_files UNION "
                                 "SELECT uri FROM log_file_hashes").fetchall()
        return tuple(row[0] for row in rows)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None
