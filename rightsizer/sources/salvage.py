"""Records of a delivery file that is not one JSON document (truncated, corrupt, or too large
to parse whole), read one record at a time, in bounded memory, whatever its bytes hold.

The records of ``{"Records":[...]}`` (or of a JSON array) are separated by ``}, {``. Splitting
the stream there gives *pieces*: each record is one piece, or a few when the separator also
occurs inside it (an array of objects in a record, a string that holds ``},{``). Pieces are
joined back, in order, until they parse with orjson; a piece that no join of the next few makes
parse is a broken record, named and skipped, and reading goes on with the next one. So one bad
record costs only itself, not the records after it, and nesting is bounded by orjson's depth
limit (1024), where a streaming parser that tracks its path (ijson) grows with the square of
the depth of a hostile file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from rightsizer.text import plural

# The largest record read. CloudTrail's events are at most 256 KB; the
# store's JSON reader is set to the same bound (queries/duckdb/ingest/type_spool.sql).
MAX_RECORD_BYTES = 16 * 1024 * 1024
# At most this many pieces are joined to find one record.
MAX_PIECES = 64
MAX_BROKEN = 1_000
READ_BYTES = 4 * 1024 * 1024

_SEPARATOR = re.compile(rb"\}\s*,\s*\{")
_HEAD = re.compile(rb"\A\s*(?:\{\s*\"Records\"\s*:\s*)?\[\s*")
_TAIL = re.compile(rb"\s*\]\s*\}?\s*\Z")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class Tally:
    """What a salvage met besides records: broken and oversized ones, and whether the end was
    cut off."""

    records: int = 0
    broken: int = 0
    oversized: int = 0
    cut_short: bool = False
    gave_up: bool = False
    first_broken_at: list[int] = field(default_factory=list)  # the record numbers, up to 5

    def problem(self) -> str | None:
        parts = []
        if self.broken:
            shown = ", ".join(map(str, self.first_broken_at))
            more = " ..." if self.broken > len(self.first_broken_at) else ""
            parts.append(f"{plural(self.broken, 'record')} unreadable "
                         f"(broken JSON; record {shown}{more})")
        if self.oversized:
            parts.append(f"{plural(self.oversized, 'record')} over {MAX_RECORD_BYTES // 2**20} MiB "
                         "skipped (CloudTrail's events are at most 256 KB)")
        if self.cut_short:
            parts.append(f"cut short after {plural(self.records, 'record')}")
        if self.gave_up:
            parts.append(f"not read past {MAX_BROKEN} broken records")
        return "; ".join(parts) or None


def records(stream: Readable, tally: Tally) -> Iterator[object]:
    """Every readable record of a delivery file or JSON array read from ``stream``, in order;
    ``tally`` counts what was not readable. After MAX_BROKEN broken records the rest of the
    stream is not read (``tally.gave_up``): it is no delivery file, and finding records in
    garbage costs up to MAX_PIECES parses a piece."""
    pending: list[bytes] = []
    for piece in _pieces(stream, tally):
        if tally.broken >= MAX_BROKEN:
            tally.gave_up = True
            return
        if piece is None:  # an oversized record: what is pending before it is resolved alone
            yield from _drain(pending, tally)
            continue
        pending.append(piece)
        while pending:
            value = _parse(pending)
            if value is not _BROKEN:
                tally.records += 1
                pending.clear()
                yield value
                break
            if len(pending) < MAX_PIECES and sum(map(len, pending)) <= MAX_RECORD_BYTES:
                break  # perhaps the next piece completes it
            yield from _give_up_first(pending, tally)
    yield from _drain(pending, tally, at_end=True)


_BROKEN = object()


def _parse(pieces: list[bytes]) -> object:
    try:
        return orjson.loads(b",".join(pieces) if len(pieces) > 1 else pieces[0])
    except orjson.JSONDecodeError:
        return _BROKEN


def _give_up_first(pending: list[bytes], tally: Tally) -> Iterator[object]:
    """The first pending piece starts no record: count it broken, and find the records in the
    pieces after it."""
    _broken(tally)
    rest = pending[1:]
    pending.clear()
    for piece in rest:
        pending.append(piece)
        value = _parse(pending)
        if value is not _BROKEN:
            tally.records += 1
            pending.clear()
            yield value


def _drain(pending: list[bytes], tally: Tally, at_end: bool = False) -> Iterator[object]:
    """Resolve what is pending when no piece will follow."""
    while pending:
        for end in range(len(pending), 0, -1):  # the longest join first: one whole record
            value = _parse(pending[:end])
            if value is not _BROKEN:
                tally.records += 1
                del pending[:end]
                yield value
                break
        else:
            if at_end and len(pending) == 1 and not pending[0].rstrip().endswith(b"}"):
                tally.cut_short = True
            else:
                _broken(tally)
            del pending[:1]


def _broken(tally: Tally) -> None:
    tally.broken += 1
    if len(tally.first_broken_at) < 5:
        tally.first_broken_at.append(tally.records + tally.broken)


def _pieces(stream: Readable, tally: Tally) -> Iterator[bytes | None]:
    """The stream split at record separators, each piece ending in ``}`` and the next starting
    with ``{``. A piece longer than MAX_RECORD_BYTES is never held: it is skipped up to the next
    separator, counted, and given as None."""
    buffer = bytearray()
    head_done = False
    opened = False  # the stream began with `[` or `{"Records": [`, so it must end with `]`
    skipping = False
    while True:
        chunk = stream.read(READ_BYTES)
        buffer += chunk
        if not head_done and (len(buffer) >= 64 or not chunk):
            match = _HEAD.match(buffer)
            if match:
                opened = True
                del buffer[:match.end()]
            head_done = True
        if not head_done:
            continue
        start = 0
        for separator in _SEPARATOR.finditer(buffer):
            if skipping:
                skipping = False
            elif separator.start() + 1 - start > MAX_RECORD_BYTES:
                tally.oversized += 1
                yield None
            else:
                yield bytes(buffer[start:separator.start() + 1])
            start = separator.end() - 1
        del buffer[:start]
        if len(buffer) > MAX_RECORD_BYTES + READ_BYTES:
            # Keep a tail that may hold the start of a separator cut by the read.
            del buffer[:-16]
            if not skipping:
                skipping = True
                tally.oversized += 1
                yield None
        if not chunk:
            break
    if skipping:
        return
    tail = _TAIL.search(buffer)
    if opened and not tail:
        tally.cut_short = True  # `{"Records": [` and nothing, or records but no closing `]`
    last = bytes(buffer[:tail.start()] if tail else buffer)
    if last.strip():
        yield last
