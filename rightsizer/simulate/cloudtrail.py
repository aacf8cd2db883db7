"""Writes records the way an organization trail delivers them to S3, plus hourly digest files.

Layout:
    AWSLogs/o-XXXXXXXXXX/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
        ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE16.json.gz
    AWSLogs/o-XXXXXXXXXX/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/
        ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_YYYYMMDDTHHmmssZ.json.gz
The date folder and the file's timestamp are the delivery time, 5-15 minutes after the newest
record in the file, whose oldest is at most a day older. Delivery is at-least-once: a few
records arrive again in a later file.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from isal import isal_zlib

from rightsizer.simulate import ids
from rightsizer.simulate.clock import iso, path_date, stamp_minute, stamp_second
from rightsizer.simulate.signing import SigningKey, region_key

DUPLICATE_RATE = 0.005
WINDOW = 300  # CloudTrail delivers about every 5 minutes per account and region
# With a number of events per file asked for, a file still spans at most this many windows (a
# day): CloudTrail delivers every few minutes and never holds a quiet region's events for weeks
# to fill a file, and ingest refuses records dated a week or more before their delivery. (A day,
# not five minutes, keeps sample_logs/ small.)
MAX_SPAN_WINDOWS = 288
DIGEST_PERIOD = 3600
GZIP_WBITS = 31  # deflate with a gzip header; zlib's header has mtime 0, so bytes are stable
GZIP_LEVEL = 1


@dataclass
class _Delivered:
    sec: int
    key: str
    sha256: str
    oldest: int
    newest: int


class _OpenFile:
    """A delivery file being written: records stream into a gzip compressor and a SHA-256.

    Nothing is kept but small pending batches and the compressed bytes, so memory stays flat
    whatever `events_per_file` is.
    """

    def __init__(self, window: int, target: int) -> None:
        self.window = window
        self.target = target
        self.count = 0
        self.oldest = 0
        self.newest = 0
        self.redelivered = 0
        self._compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, GZIP_WBITS)
        self._hash = hashlib.sha256()
        self._compressed: list[bytes] = []
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._feed(b'{"Records":[')

    def _feed(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._compressed.append(self._compressor.compress(chunk))

    def _drain(self) -> None:
        if self._pending:
            # A comma before each batch except the first record of the file.
            prefix = b"," if self.count > len(self._pending) else b""
            self._feed(prefix + b",".join(self._pending))
            self._pending = []
            self._pending_size = 0

    def add(self, sec: int, data: bytes) -> None:
        if self.count == 0:
            self.oldest = self.newest = sec
        elif sec < self.oldest:
            self.oldest = sec
        elif sec > self.newest:
            self.newest = sec
        self.count += 1
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _BATCH_BYTES:
            self._drain()

    def finish(self) -> tuple[bytes, str]:
        """The gzip file's bytes and the SHA-256 of its uncompressed content."""
        self._drain()
        self._feed(b"]}")
        self._compressed.append(self._compressor.flush())
        return b"".join(self._compressed), self._hash.hexdigest()


_BATCH_BYTES = 1 << 18


def _gzip(body: bytes) -> bytes:
    return isal_zlib.compress(body, GZIP_LEVEL, GZIP_WBITS)


@dataclass
class _Stream:
    account: str
    region: str
    open: _OpenFile | None = None
    next_dups: list[tuple[int, bytes]] = field(default_factory=list)  # for the next file
    files: list[_Delivered] = field(default_factory=list)
    last_delivery: int = 0


class DeliveryWriter:
    """Groups records per (account, region) into delivery files and writes them."""

    def __init__(
        self,
        root: Path,
        org_id: str,
        bucket: str,
        trail: str,
        streams: list[tuple[str, str]],
        rng: random.Random,
        events_per_file: int | None,
        digest_period: int = DIGEST_PERIOD,
        key_seed: int = 0,
    ) -> None:
        self.root = root
        self.key_seed = key_seed
        # Each digest's signature, as CloudTrail sets it in the object's metadata
        # (x-amz-meta-signature): the simulation writes them beside the logs for S3 uploads.
        self.signatures: dict[str, str] = {}
        self.keys: dict[str, SigningKey] = {}
        self.digest_period = digest_period
        self.org_id = org_id
        self.bucket = bucket
        self.trail = trail
        self.rng = rng
        self.per_file = events_per_file
        self.streams = [_Stream(a, r) for a, r in streams]
        self.delivery_files = 0
        self.duplicates = 0
        self.digest_files = 0
        self._dirs: set[Path] = set()

    def add(self, sec: int, stream: int, data: bytes) -> None:
        s = self.streams[stream]
        f = s.open
        if f is not None and (sec // WINDOW != f.window if self.per_file is None
                              else sec // WINDOW - f.window >= MAX_SPAN_WINDOWS):
            self._deliver(s)
            f = None
        if f is None:
            f = s.open = self._start(s, sec)
        f.add(sec, data)
        if self.rng.random() < DUPLICATE_RATE:
            s.next_dups.append((sec, data))
        if self.per_file and f.count >= f.target:
            self._deliver(s)

    def _start(self, s: _Stream, sec: int) -> _OpenFile:
        target = 0
        if self.per_file:
            # File sizes vary around the requested mean (uniform on 0.5x..1.5x).
            half = self.per_file // 2
            target = max(1, self.per_file + self.rng.randint(-half, half))
        f = _OpenFile(sec // WINDOW, target)
        # Records the previous file also held arrive again first, as a retried batch would.
        for dup_sec, data in s.next_dups:
            f.add(dup_sec, data)
        f.redelivered = len(s.next_dups)
        f.target += f.redelivered
        s.next_dups = []
        return f

    def _write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        path.write_bytes(data)

    def _deliver(self, s: _Stream) -> None:
        f = s.open
        assert f is not None
        s.open = None
        delivery = max(f.newest + self.rng.randint(300, 900), s.last_delivery)
        s.last_delivery = delivery
        data, sha256 = f.finish()
        name = (
            f"{s.account}_CloudTrail_{s.region}_{stamp_minute(delivery)}_"
            f"{ids.text(self.rng, 16)}.json.gz"
        )
        rel = (
            f"AWSLogs/{self.org_id}/{s.account}/CloudTrail/{s.region}/"
            f"{path_date(delivery)}/{name}"
        )
        self._write(rel, data)
        # Digests hash the uncompressed log file content.
        s.files.append(_Delivered(delivery, rel, sha256, f.oldest, f.newest))
        self.delivery_files += 1
        self.duplicates += f.redelivered

    def close(self, start: int, end: int) -> None:
        """Deliver what is left; write hourly digests from `start` to `end` or the last delivery."""
        for s in self.streams:
            if s.open is not None:
                self._deliver(s)
            # Redeliveries of the last file's records have no later file to go to: dropped.
            s.next_dups = []
        for s in self.streams:
            self._digests(s, start, end)

    def _digests(self, s: _Stream, start: int, end: int) -> None:
        # Digests keep coming every hour, with or without log files to list; one more period
        # after the last delivery, as CloudTrail goes on writing them, so that every file's
        # digest is followed by one that carries its signature.
        last = max([f.sec for f in s.files] + [end - 1]) + self.digest_period
        hour = start - start % self.digest_period
        previous: tuple[str, str, str] | None = None  # (key, sha256 of content, signature)
        key = self.keys.setdefault(s.region, region_key(self.key_seed, s.region))
        i = 0
        while hour <= last:
            end = hour + self.digest_period
            files = []
            while i < len(s.files) and s.files[i].sec < end:
                files.append(s.files[i])
                i += 1
            delivered = end + self.rng.randint(60, 900)
            name = (
                f"{s.account}_CloudTrail-Digest_{s.region}_{self.trail}_{s.region}_"
                f"{stamp_second(delivered)}.json.gz"
            )
            rel = (
                f"AWSLogs/{self.org_id}/{s.account}/CloudTrail-Digest/{s.region}/"
                f"{path_date(delivered)}/{name}"
            )
            digest = self._digest(s, hour, end, rel, files, previous)
            digest["digestPublicKeyFingerprint"] = key.fingerprint
            body = orjson.dumps(digest)
            sha256 = hashlib.sha256(body).hexdigest()
            signature = key.sign(
                f"{digest['digestEndTime']}\n{self.bucket}/{rel}\n{sha256}\n"
                f"{previous[2] if previous else 'null'}".encode())
            self._write(rel, _gzip(body))
            self.signatures[rel] = signature
            self.digest_files += 1
            previous = (rel, sha256, signature)
            hour = end

    def _digest(
        self,
        s: _Stream,
        begin: int,
        end: int,
        rel: str,
        files: list[_Delivered],
        previous: tuple[str, str, str] | None,
    ) -> dict[str, Any]:
        return {
            "awsAccountId": s.account,
            "digestStartTime": iso(begin),
            "digestEndTime": iso(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": rel,
            "digestPublicKeyFingerprint": "",
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": iso(max(f.newest for f in files)) if files else None,
            "oldestEventTime": iso(min(f.oldest for f in files)) if files else None,
            "previousDigestS3Bucket": self.bucket if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": self.bucket,
                    "s3Object": f.key,
                    "hashValue": f.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": iso(f.newest),
                    "oldestEventTime": iso(f.oldest),
                }
                for f in files
            ],
        }
