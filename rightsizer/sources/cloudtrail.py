"""CloudTrail file contents: every shape, turned into spool lines the store bulk-loads.

The store reads events with DuckDB's newline-delimited JSON reader, which parses in C++ at
several times the speed of any Python parser (DOMAIN.md section 3, measured). So this module
does not parse well-formed files at all: it decompresses them and rewrites them, byte for byte,
into one *spool line* per file, ``{"__s": N, "Records": [...]}``, where N is the file's index in
its chunk. A CloudTrail delivery file ``{"Records": [...]}`` needs only the index spliced in; a
JSON array of events needs a wrapper. Everything else (a single event, JSON lines, a file the
store could not read, a very large file) takes the *careful path*: parsed in Python, with what
is readable salvaged and what is not named in a reason.

Raw newlines cannot occur inside JSON strings (RFC 8259, section 7: control characters must be
escaped), so replacing them by spaces keeps any valid document valid and puts it on one line.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import ijson
import orjson
from isal import igzip

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
_NEWLINES = bytes.maketrans(b"\r\n", b"  ")


class UnreadableInput(Exception):
    """The file's bytes are not CloudTrail events at all; the message is the reason."""


@dataclass(frozen=True, slots=True)
class Careful:
    """Spool lines from the careful path, and what was wrong with the file, if anything."""

    lines: list[bytes]
    problem: str | None = None


def decompress(data: bytes) -> bytes:
    """Gunzip when the bytes are gzip (by magic number, whatever the file is called)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return igzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
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


def fast_line(index: int, text: bytes) -> bytes | None:
    """The spool line of a delivery file or an event array without parsing it, or None when
    the file has another shape and needs the careful path."""
    if len(text) > LARGE_FILE_BYTES:
        return None
    if _WRAPPER_HEAD.match(text) and _WRAPPER_TAIL.search(text[-64:]):
        brace = text.index(b"{")
        return b'{"%s":%d,' % (SOURCE_KEY.encode(), index) + text[brace + 1 :].translate(_NEWLINES)
    if _ARRAY_HEAD.match(text) and _ARRAY_TAIL.search(text[-64:]):
        head = b'{"%s":%d,"Records":' % (SOURCE_KEY.encode(), index)
        return head + text.translate(_NEWLINES) + b"}"
    return None


def records_line(index: int, records: Iterable[object]) -> bytes:
    """A spool line holding already parsed records."""
    head = b'{"%s":%d,"Records":' % (SOURCE_KEY.encode(), index)
    return head + orjson.dumps(list(records)) + b"}"


def is_event(value: object) -> bool:
    """A CloudTrail event names its API call; anything else is not one."""
    return isinstance(value, dict) and ("eventName" in value or "eventSource" in value)


def careful_lines(index: int, text: bytes) -> Careful:
    """Parse a file of any shape in Python and salvage every readable event.

    Shapes: ``{"Records": [...]}``, a JSON array of events, a single event, JSON lines.
    A truncated delivery file gives up the records before the cut. Raises UnreadableInput when
    nothing in the file is a CloudTrail event.
    """
    if len(text) > LARGE_FILE_BYTES and _WRAPPER_HEAD.match(text):
        return _stream_records(index, io.BytesIO(text), "Records.item")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return _salvage(index, text, exc)
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        return _from_records(index, document["Records"], "Records")
    if isinstance(document, list):
        return _from_records(index, document, "array")
    if is_event(document):
        return Careful([records_line(index, [document])])
    raise UnreadableInput(_not_events(document))


def stream_lines(index: int, stream: io.BufferedIOBase) -> Careful:
    """A delivery file too large to hold, read from a (decompressing) stream record by record."""
    return _stream_records(index, stream, "Records.item")


def _from_records(index: int, records: list[object], shape: str) -> Careful:
    events = [r for r in records if is_event(r)]
    if records and not events:
        raise UnreadableInput(f"{shape} holds {len(records)} items, none a CloudTrail event")
    problem = None
    if len(events) < len(records):
        problem = f"{len(records) - len(events)} of {len(records)} items are not CloudTrail events"
    return Careful([records_line(index, events)], problem)


def _salvage(index: int, text: bytes, error: orjson.JSONDecodeError) -> Careful:
    """Not one JSON document: JSON lines, or a truncated delivery file."""
    if _WRAPPER_HEAD.match(text):
        salvaged = _stream_records(index, io.BytesIO(text), "Records.item")
        if salvaged.lines:
            return salvaged
        raise UnreadableInput(f"broken JSON: {error}")
    events: list[object] = []
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
    return Careful([records_line(index, events)], "; ".join(problems) or None)


def _stream_records(index: int, stream: io.BufferedIOBase, prefix: str) -> Careful:
    """Read records one by one (ijson), so memory holds one batch, never the whole file; a
    truncated or corrupt tail keeps every record before it."""
    lines: list[bytes] = []
    batch: list[object] = []
    seen = 0
    problem = None
    try:
        for record in ijson.items(stream, prefix, use_float=True):
            seen += 1
            if is_event(record):
                batch.append(record)
            if len(batch) >= STREAM_BATCH:
                lines.append(records_line(index, batch))
                batch = []
    except (ijson.JSONError, ijson.IncompleteJSONError, OSError, EOFError, zlib.error) as exc:
        problem = f"unreadable after {seen} records: {_short(exc)}"
    if batch:
        lines.append(records_line(index, batch))
    if not lines and problem:
        raise UnreadableInput(problem)
    if seen and not lines:
        raise UnreadableInput(f"{seen} records, none a CloudTrail event")
    return Careful(lines, problem)


def _not_events(document: object) -> str:
    if isinstance(document, dict):
        keys = ", ".join(sorted(map(str, document))[:6])
        return f"JSON object without CloudTrail events (keys: {keys})"
    return f"JSON {type(document).__name__} without CloudTrail events"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."
