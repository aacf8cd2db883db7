"""CloudTrail file contents: every shape, turned into spool lines the store bulk-loads.

The store reads events with DuckDB's newline-delimited JSON reader, which parses in C++ at
several times the speed of any Python parser (DOMAIN.md section 3, measured). Its input is the
*spool*: one event per line, tagged with the index of its file in the chunk,
``{"__s": N, "eventVersion": ...}``.

Delivery files as CloudTrail writes them are compact, ``{"Records":[{"eventVersion":...},
{"eventVersion":...}]}``, so they are turned into spool lines without being parsed: the byte
sequence ``},{"eventVersion"`` can only be a boundary between two objects, because a quote
inside a JSON string is always escaped (RFC 8259, section 7). The store then checks that it
read exactly as many events per file as the split found; where it did not (an object nested in
a record that also starts with eventVersion, broken JSON), the file is read again on the
*careful path*: parsed in Python, every readable event salvaged, and what is not named.
Other shapes (pretty-printed files, arrays, single events, JSON lines, very large files) take
the careful path directly.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ijson
import orjson
from isal import igzip, igzip_lib

GZIP_MAGIC = b"\x1f\x8b"

# Key of the file index in a spool line. Chosen so that it cannot clash with a CloudTrail field.
SOURCE_KEY = "__s"

# Above this many decompressed bytes a file is streamed record by record (bounded memory)
# instead of being handed to the store as one line.
LARGE_FILE_BYTES = 48 * 1024 * 1024
# Records per spool line when a large file is streamed.
STREAM_BATCH = 5_000

_WRAPPER_HEAD = re.compile(rb'\A\s*\{\s*"Records"\s*:\s*\[')
_WRAPPER_TAIL = re.compile(rb"\]\s*\}\s*\Z")
_ARRAY_HEAD = re.compile(rb"\A\s*\[")
_ARRAY_TAIL = re.compile(rb"\]\s*\Z")
_RECORD_START = b'{"eventVersion"'
_BOUNDARY = b'},{"eventVersion"'


class UnreadableInput(Exception):
    """The file's bytes are not CloudTrail events at all; the message is the reason."""


Write = Callable[[bytes], object]


@dataclass(frozen=True, slots=True)
class Careful:
    """What the careful path wrote: how many events, and what was wrong, if anything."""

    events: int
    problem: str | None = None


# What gunzip raises on a broken file: a bad header or a truncated stream (OSError, EOFError),
# and a corrupt deflate stream, which isal reports with its own IsalError, not zlib.error.
_GZIP_ERRORS = (OSError, EOFError, zlib.error, igzip_lib.IsalError)


def decompress(data: bytes) -> bytes:
    """Gunzip when the bytes are gzip (by magic number, whatever the file is called)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return igzip.decompress(data)
    except _GZIP_ERRORS as exc:
        raise UnreadableInput(f"corrupt gzip: {exc}") from exc


# Names that promise JSON: such a file that is not JSON is a bad input, not a skip.
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz")
_JSON_START = re.compile(rb"\A\s*[\[{]")


def not_json_reason(uri: str, text: bytes) -> str | None:
    """Why a file whose name does not promise JSON is skipped (e.g. a README beside the logs),
    or None when it is to be read."""
    if uri.lower().endswith(JSON_SUFFIXES) or _JSON_START.match(text[:4096]):
        return None
    return "not a JSON file"


def fast_lines(index: int, text: bytes) -> tuple[bytes, int] | None:
    """Spool lines of a compact delivery file (or compact array of events) without parsing,
    and how many events they should hold; None when the file needs the careful path."""
    if len(text) > LARGE_FILE_BYTES:
        return None
    end = max(0, len(text) - 64)
    head = _WRAPPER_HEAD.match(text)
    if head:
        tail = _WRAPPER_TAIL.search(text, end)
    else:
        head = _ARRAY_HEAD.match(text)
        tail = _ARRAY_TAIL.search(text, end) if head else None
    if not head or not tail or tail.start() < head.end():
        return None
    inner = text[head.end():tail.start()].strip()
    if not inner:
        return b"", 0
    if (not inner.startswith(_RECORD_START) or not inner.endswith(b"}")
            or b"\n" in inner or b"\r" in inner):
        return None
    tag = _tag(index)
    body = tag + inner[1:].replace(_BOUNDARY, b"}\n" + tag + _RECORD_START[1:])
    return body + b"\n", inner.count(_BOUNDARY) + 1


def _tag(index: int) -> bytes:
    return b'{"%s":%d,' % (SOURCE_KEY.encode(), index)


def event_lines(index: int, events: Iterable[dict[str, object]]) -> tuple[bytes, int]:
    """Spool lines of parsed events (each a non-empty dict), and their number."""
    tag = _tag(index)
    lines = [tag + orjson.dumps(e)[1:] for e in events]
    return b"\n".join(lines) + b"\n" if lines else b"", len(lines)


def is_event(value: object) -> bool:
    """A CloudTrail event names its API call; anything else is not one."""
    return isinstance(value, dict) and ("eventName" in value or "eventSource" in value)


def careful_spool(index: int, text: bytes, write: Write) -> Careful:
    """Parse a file of any shape in Python, writing every readable event as a spool line.

    Shapes: ``{"Records": [...]}``, a JSON array of events, a single event, JSON lines.
    A truncated delivery file gives up the records before the cut. Raises UnreadableInput when
    nothing in the file is a CloudTrail event.
    """
    if len(text) > LARGE_FILE_BYTES and _WRAPPER_HEAD.match(text):
        return stream_spool(index, io.BytesIO(text), write)
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return _salvage(index, text, exc, write)
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        return _from_records(index, document["Records"], "Records", write)
    if isinstance(document, list):
        return _from_records(index, document, "array", write)
    if is_event(document):
        return _write_events(index, [document], write)
    raise UnreadableInput(_not_events(document))


def stream_spool(index: int, stream: io.BufferedIOBase, write: Write) -> Careful:
    """A delivery file read from a (decompressing) stream record by record (ijson), so memory
    holds one batch, never the whole file; a truncated or corrupt tail keeps every record
    before it."""
    batch: list[dict[str, object]] = []
    seen = written = 0
    problem = None
    try:
        for record in ijson.items(stream, "Records.item", use_float=True):
            seen += 1
            if is_event(record):
                batch.append(record)
            if len(batch) >= STREAM_BATCH:
                written += _write_events(index, batch, write).events
                batch = []
    except (ijson.JSONError, ijson.IncompleteJSONError, *_GZIP_ERRORS) as exc:
        problem = f"unreadable after {seen} records: {_short(exc)}"
    written += _write_events(index, batch, write).events
    if not written and problem:
        raise UnreadableInput(problem)
    if seen and not written:
        raise UnreadableInput(f"{seen} records, none a CloudTrail event")
    return Careful(written, problem)


def _write_events(index: int, events: list[dict[str, object]], write: Write,
                  problem: str | None = None) -> Careful:
    data, count = event_lines(index, events)
    if data:
        write(data)
    return Careful(count, problem)


def _from_records(index: int, records: list[object], shape: str, write: Write) -> Careful:
    events = [r for r in records if is_event(r)]
    if records and not events:
        raise UnreadableInput(f"{shape} holds {len(records)} items, none a CloudTrail event")
    problem = None
    if len(events) < len(records):
        problem = f"{len(records) - len(events)} of {len(records)} items are not CloudTrail events"
    return _write_events(index, events, write, problem)  # type: ignore[arg-type]


def _salvage(index: int, text: bytes, error: orjson.JSONDecodeError, write: Write) -> Careful:
    """Not one JSON document: JSON lines, or a truncated delivery file."""
    if _WRAPPER_HEAD.match(text):
        try:
            return stream_spool(index, io.BytesIO(text), write)
        except UnreadableInput:
            raise UnreadableInput(f"broken JSON: {error}") from None
    events: list[dict[str, object]] = []
    bad_lines: list[int] = []
    not_events = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad_lines.append(number)
            continue
        if is_event(value):
            events.append(value)
        else:
            not_events += 1
    if not events:
        if not_events and not bad_lines:
            raise UnreadableInput(f"JSON lines: none of {not_events} lines is a CloudTrail event")
        raise UnreadableInput(f"broken JSON: {error}")
    problems = []
    if bad_lines:
        shown = ", ".join(map(str, bad_lines[:5])) + (" ..." if len(bad_lines) > 5 else "")
        problems.append(f"{len(bad_lines)} JSON lines unreadable (line {shown})")
    if not_events:
        problems.append(f"{not_events} JSON lines are not CloudTrail events")
    return _write_events(index, events, write, "; ".join(problems) or None)


def _not_events(document: object) -> str:
    if isinstance(document, dict):
        keys = ", ".join(sorted(map(str, document))[:6])
        return f"JSON object without CloudTrail events (keys: {keys})"
    return f"JSON {type(document).__name__} without CloudTrail events"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."
