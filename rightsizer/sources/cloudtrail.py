"""CloudTrail file contents: every shape, turned into spool lines the store bulk-loads.

The store reads events with DuckDB's newline-delimited JSON reader, which parses in C++ at
several times the speed of any Python parser (measured). Its input is the
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson

from rightsizer.sources import inflate, salvage
from rightsizer.text import plural

# Key of the file index in a spool line. Chosen so that it cannot clash with a CloudTrail field.
SOURCE_KEY = "__s"

# Above this many decompressed bytes a file is streamed record by record (bounded memory)
# instead of being handed to the store as one line.
LARGE_FILE_BYTES = inflate.WHOLE_BYTES
# Records per write when a large file is streamed.
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


def decompress(data: bytes) -> bytes:
    """Gunzip when the bytes are gzip (by magic number, whatever the file is called), within
    ``inflate``'s caps."""
    try:
        return inflate.decompress(data)
    except inflate.InflateError as exc:
        raise UnreadableInput(str(exc)) from exc


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
    if len(inner) > salvage.MAX_RECORD_BYTES and _longest_record(inner) > salvage.MAX_RECORD_BYTES:
        return None  # the store's reader would refuse that line: the careful path skips it
    tag = _tag(index)
    # Each boundary grows by len(tag) - 1 bytes (the tag, a newline, less "," and "{"): the
    # growth counts the boundaries, and the pieces are joined once, without copying the
    # records between the steps.
    split = inner.replace(_BOUNDARY, b"}\n" + tag + _RECORD_START[1:])
    boundaries = (len(split) - len(inner)) // (len(tag) - 1)
    return b"".join((tag, memoryview(split)[1:], b"\n")), boundaries + 1


def _longest_record(inner: bytes) -> int:
    longest = start = 0
    while (end := inner.find(_BOUNDARY, start)) >= 0:
        longest = max(longest, end - start)
        start = end + 1
    return max(longest, len(inner) - start)


def _tag(index: int) -> bytes:
    return b'{"%s":%d,' % (SOURCE_KEY.encode(), index)


def event_lines(index: int, events: Iterable[dict[str, object]]) -> tuple[bytes, int, int]:
    """Spool lines of parsed events (each a non-empty dict), their number, and how many events
    were left out for being over ``salvage.MAX_RECORD_BYTES`` (the store's reader refuses such a
    line, and no CloudTrail event is that large)."""
    tag = _tag(index)
    lines = []
    oversized = 0
    for event in events:
        line = tag + orjson.dumps(event)[1:]
        if len(line) > salvage.MAX_RECORD_BYTES:
            oversized += 1
        else:
            lines.append(line)
    return b"\n".join(lines) + b"\n" if lines else b"", len(lines), oversized


def is_event(value: object) -> bool:
    """A CloudTrail event names its API call; anything else is not one."""
    return isinstance(value, dict) and ("eventName" in value or "eventSource" in value)


def careful_spool(index: int, text: bytes, write: Write) -> Careful:
    """Parse a file of any shape in Python, writing every readable event as a spool line.

    Shapes: ``{"Records": [...]}``, a JSON array of events, a single event, JSON lines.
    A truncated or corrupt delivery file gives up only its broken records (``salvage``).
    Raises UnreadableInput when nothing in the file is a CloudTrail event.
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
        return _all_or_nothing(_write_events(index, [document], write))
    raise UnreadableInput(_not_events(document))


def stream_spool(index: int, stream: salvage.Readable, write: Write) -> Careful:
    """The records of a delivery file (or JSON array) read from a (decompressing) stream one at
    a time, so memory holds one batch, never the whole file. A broken record costs only itself;
    a corrupt or capped stream keeps every record before the fault."""
    tally = salvage.Tally()
    batch: list[dict[str, object]] = []
    written = not_events = 0
    fault = None
    try:
        for record in salvage.records(stream, tally):
            if is_event(record):
                batch.append(record)  # type: ignore[arg-type]
            else:
                not_events += 1
            if len(batch) >= STREAM_BATCH:
                written += _write_events(index, batch, write).events
                batch = []
    except inflate.InflateError as exc:
        fault = f"{exc} (after {tally.records} records)"
    written += _write_events(index, batch, write).events
    problems = [p for p in (tally.problem(), fault) if p]
    if not_events and written:
        problems.append(f"{not_events} of {tally.records} records are not CloudTrail events")
    if not written:
        if problems:
            raise UnreadableInput("; ".join(problems))
        if tally.records:
            raise UnreadableInput(f"{tally.records} records, none a CloudTrail event")
    return Careful(written, "; ".join(problems) or None)


def _write_events(index: int, events: list[dict[str, object]], write: Write,
                  problem: str | None = None) -> Careful:
    data, count, oversized = event_lines(index, events)
    if data:
        write(data)
    if oversized:
        too_large = (f"{plural(oversized, 'record')} over "
                     f"{salvage.MAX_RECORD_BYTES // 2**20} MiB skipped "
                     "(CloudTrail's events are at most 256 KB)")
        problem = f"{problem}; {too_large}" if problem else too_large
    return Careful(count, problem)


def _all_or_nothing(result: Careful) -> Careful:
    """A file whose every event was left out is unreadable, for the reason they were."""
    if not result.events and result.problem:
        raise UnreadableInput(result.problem)
    return result


def _from_records(index: int, records: list[object], shape: str, write: Write) -> Careful:
    events = [r for r in records if is_event(r)]
    if records and not events:
        raise UnreadableInput(f"{shape} holds {len(records)} items, none a CloudTrail event")
    problem = None
    if len(events) < len(records):
        problem = f"{len(records) - len(events)} of {len(records)} items are not CloudTrail events"
    return _all_or_nothing(_write_events(index, events, write, problem))  # type: ignore[arg-type]


def _salvage(index: int, text: bytes, error: orjson.JSONDecodeError, write: Write) -> Careful:
    """Not one JSON document: a truncated or corrupt delivery file or array, or JSON lines."""
    if _WRAPPER_HEAD.match(text) or _ARRAY_HEAD.match(text):
        try:
            return stream_spool(index, io.BytesIO(text), write)
        except UnreadableInput as exc:
            raise UnreadableInput(f"broken JSON: {error} ({exc})") from None
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
