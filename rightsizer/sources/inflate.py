"""A log file's content, decompressed in a stream with caps, so that no file can make a reader
hold more than a bounded amount: a gzip bomb (2 GB of zeros in 1.9 MB) is refused, named, when
it passes the cap, never inflated whole.

CloudTrail delivery files are gzip of JSON, at most a few hundred MB inflated; JSON compresses
about 10 to 30 times. A file inflating past ``MAX_RATIO`` times its size (beyond a floor), or
past ``MAX_INFLATED_BYTES`` in all, is no delivery file. Small content (up to
``WHOLE_BYTES``) is handed on whole, as bytes (the fast path splits it without parsing);
larger content as a stream that reads on from where the head ended.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from isal import igzip, igzip_lib, isal_zlib

GZIP_MAGIC = b"\x1f\x8b"

MAX_INFLATED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR_BYTES = 64 * 1024 * 1024
# Up to this many inflated bytes a file is read whole; beyond, it is streamed.
WHOLE_BYTES = 48 * 1024 * 1024
_READ = 1024 * 1024

# What gunzip raises on a broken file: a bad header or a truncated stream (OSError, EOFError),
# and a corrupt deflate stream, which isal reports with its own IsalError, not zlib.error.
GZIP_ERRORS = (OSError, EOFError, zlib.error, igzip_lib.IsalError)


class InflateError(Exception):
    """The content cannot be read: corrupt gzip, or over a cap. The message is the reason."""


class _Capped(io.RawIOBase):
    """Reads a (decompressing) stream, failing once more than ``limit`` bytes came out."""

    def __init__(self, stream: BinaryIO, limit: int, why: str, gzipped: bool) -> None:
        self._stream = stream
        self._limit = limit
        self._why = why
        self._gzipped = gzipped
        self.total = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self._stream.read(_READ if size is None or size < 0 else size)
        except GZIP_ERRORS as exc:
            if not self._gzipped:
                raise
            raise InflateError(f"corrupt gzip after {self.total:,} bytes: {exc}") from exc
        self.total += len(data)
        if self.total > self._limit:
            raise InflateError(self._why)
        return data


class Stream:
    """Content too large to read whole: ``head`` is what was read, ``read`` goes on from it.
    ``sha256`` hashes what was read so far: once read to the end, the content's hash, which
    CloudTrail's digest files record."""

    def __init__(self, head: bytes, rest: _Capped) -> None:
        self.head = head
        self._head = io.BytesIO(head)
        self._rest = rest
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        data = self._head.read(size) or self._rest.read(size)
        self.sha256.update(data)
        return data


@contextmanager
def content(raw: BinaryIO, compressed_size: int) -> Iterator[bytes | Stream]:
    """The content of a file opened as ``raw`` (gzip or not, by magic number): its bytes when
    it is small, else a ``Stream``. Raises InflateError (corrupt gzip, or a cap passed) while
    reading the head; a ``Stream`` raises it when read past a cap."""
    magic = raw.read(2)
    raw.seek(0)
    gzipped = magic == GZIP_MAGIC
    if isinstance(raw, io.BytesIO) and (whole := _small_whole(raw.getvalue(), gzipped)):
        yield whole
        return
    if gzipped:
        limit = min(MAX_INFLATED_BYTES, max(RATIO_FLOOR_BYTES, MAX_RATIO * compressed_size))
        why = (f"inflates to more than {limit:,} bytes from {compressed_size:,} (a gzip bomb?): "
               "CloudTrail delivery files are at most a few hundred MB inflated")
        with igzip.GzipFile(fileobj=raw, mode="rb") as inflated:
            yield _open(_Capped(inflated, limit, why, gzipped=True))  # type: ignore[arg-type]
        return
    why = f"more than {MAX_INFLATED_BYTES:,} bytes: no CloudTrail delivery file is this large"
    yield _open(_Capped(raw, MAX_INFLATED_BYTES, why, gzipped=False))


def _small_whole(data: bytes, gzipped: bool) -> bytes | None:
    """In-memory content that is plainly small, in one call: most delivery files are a few KB,
    and the stream below costs about ten times their inflating (measured: 90 against 10 µs a
    file). Anything else (content over ``WHOLE_BYTES``, several gzip members, trailing bytes,
    a truncated or corrupt stream) gives None and takes the stream, which names the fault;
    so both give the same result. Content within ``WHOLE_BYTES`` is within every cap."""
    if not gzipped:
        return data if 0 < len(data) <= WHOLE_BYTES else None
    inflater = isal_zlib.decompressobj(31)  # gzip only: the magic number said so
    try:
        text = inflater.decompress(data, WHOLE_BYTES + 1)
    except isal_zlib.error:
        return None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail or not text:
        return None
    return text if len(text) <= WHOLE_BYTES else None


def _open(stream: _Capped) -> bytes | Stream:
    parts = []
    size = 0
    while size <= WHOLE_BYTES:
        data = stream.read(WHOLE_BYTES + 1 - size)
        if not data:
            return b"".join(parts)
        parts.append(data)
        size += len(data)
    return Stream(b"".join(parts), stream)


def decompress(data: bytes) -> bytes:
    """All of ``data`` inflated (gzip by magic number), under the same caps; for callers that
    need the whole content of a small file."""
    with content(io.BytesIO(data), len(data)) as value:
        if isinstance(value, Stream):
            return _read_all(value)
        return value


def _read_all(stream: Stream) -> bytes:
    parts = []
    while data := stream.read(_READ):
        parts.append(data)
    return b"".join(parts)
