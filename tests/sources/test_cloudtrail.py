"""The shapes of CloudTrail files, turned into spool lines (rightsizer.sources.cloudtrail)."""

from __future__ import annotations

import gzip

import orjson
import pytest

from rightsizer.sources import cloudtrail
from rightsizer.sources.cloudtrail import SOURCE_KEY, UnreadableInput

EVENT = {"eventVersion": "1.08", "eventID": "e1", "eventTime": "2024-05-01T10:00:00Z",
         "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}
EVENT2 = {**EVENT, "eventID": "e2", "eventName": "PutObject"}


def events_of(spool: bytes, index: int) -> list[dict]:
    """The events of spool lines, checking each is tagged with its file index."""
    out = []
    for line in spool.splitlines():
        doc = orjson.loads(line)
        assert doc.pop(SOURCE_KEY) == index
        out.append(doc)
    return out


def careful(index: int, text: bytes) -> tuple[list[dict], cloudtrail.Careful]:
    written: list[bytes] = []
    result = cloudtrail.careful_spool(index, text, written.append)
    events = events_of(b"".join(written), index)
    assert result.events == len(events)
    return events, result


@pytest.mark.parametrize(
    "text",
    [
        orjson.dumps({"Records": [EVENT, EVENT2]}),
        b' {"Records" : [' + orjson.dumps(EVENT) + b"," + orjson.dumps(EVENT2) + b"]}\n",
        orjson.dumps([EVENT, EVENT2]),
    ],
    ids=["delivery", "delivery-spaced", "array"],
)
def test_fast_lines_split_compact_files_without_parsing(text: bytes) -> None:
    fast = cloudtrail.fast_lines(7, text)
    assert fast is not None
    spool, count = fast
    assert count == 2
    assert events_of(spool, 7) == [EVENT, EVENT2]


def test_fast_lines_count_what_they_split() -> None:
    # A nested object that also starts with eventVersion is split too: the count says 3 where
    # the store will read fewer valid lines, and the file then takes the careful path.
    nested = {**EVENT, "requestParameters": {"items": [{"a": 1}, {"eventVersion": "x"}]}}
    spool, count = cloudtrail.fast_lines(0, orjson.dumps({"Records": [nested]}))  # type: ignore
    assert count == 2
    readable = 0
    for line in spool.splitlines():
        try:
            orjson.loads(line)
            readable += 1
        except orjson.JSONDecodeError:
            pass
    assert readable < count


@pytest.mark.parametrize(
    "text",
    [
        orjson.dumps(EVENT),  # a single event
        orjson.dumps(EVENT) + b"\n" + orjson.dumps(EVENT2) + b"\n",  # JSON lines
        orjson.dumps({"Records": [EVENT], "extra": 1}),  # wrapper with more keys
        orjson.dumps({"Records": [EVENT, EVENT2]}, option=orjson.OPT_INDENT_2),
        orjson.dumps([{"eventID": "x", "eventVersion": "1.0"}]),  # another key order
        b"",
    ],
    ids=["single-event", "jsonl", "wrapper-with-more-keys", "pretty", "key-order", "empty"],
)
def test_fast_lines_decline_other_shapes(text: bytes) -> None:
    assert cloudtrail.fast_lines(0, text) is None


def test_fast_lines_of_an_empty_delivery() -> None:
    assert cloudtrail.fast_lines(0, b'{"Records":[]}') == (b"", 0)


@pytest.mark.parametrize(
    ("text", "expected", "problem"),
    [
        (orjson.dumps(EVENT), [EVENT], None),
        (orjson.dumps(EVENT) + b"\n\n" + orjson.dumps(EVENT2), [EVENT, EVENT2], None),
        (orjson.dumps({"Records": []}), [], None),
        (orjson.dumps({"Records": [EVENT, {"x": 1}]}), [EVENT], "1 of 2 items are not"),
        (orjson.dumps(EVENT) + b"\n{broken\n" + orjson.dumps(EVENT2), [EVENT, EVENT2],
         "1 JSON lines unreadable (line 2)"),
        # A delivery file cut short keeps every record before the cut.
        (orjson.dumps({"Records": [EVENT, EVENT2]})[:-30], [EVENT], "cut short after 1 record"),
        # Cut after a whole record or before any: still cut short, never "no problem".
        (orjson.dumps({"Records": [EVENT, EVENT2]})[:-2], [EVENT, EVENT2],
         "cut short after 2 records"),
    ],
    ids=["single", "jsonl", "empty-records", "non-event-item", "jsonl-bad-line", "truncated",
         "truncated-after-a-record"],
)
def test_careful_path_salvages_every_readable_event(text: bytes, expected: list[dict],
                                                    problem: str | None) -> None:
    events, result = careful(3, text)
    assert events == expected
    if problem is None:
        assert result.problem is None
    else:
        assert result.problem is not None and problem in result.problem


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"UserDetailList": [], "RoleDetailList": []}', "without CloudTrail events (keys: "),
        (b'{"rule_file": "a"}\n{"rule_file": "b"}\n', "none of 2 lines is a CloudTrail event"),
        (b'{"Records": [{"x": 1}]}', "none a CloudTrail event"),
        (b'{"Records": [{"eventName"', "broken JSON: unexpected end of data"),
        (b'{"Records": [', "cut short after 0 records"),
        (b"not json at all", "broken JSON"),
        (b"[1, 2, 3]", "none a CloudTrail event"),
    ],
    ids=["iam-file", "jsonl-not-events", "records-not-events", "truncated-early", "head-only",
         "text",
         "array-of-numbers"],
)
def test_careful_path_names_why_nothing_is_readable(text: bytes, reason: str) -> None:
    with pytest.raises(UnreadableInput, match=None) as info:
        careful(0, text)
    assert reason in str(info.value)


def test_decompress_by_magic_not_by_name() -> None:
    raw = orjson.dumps({"Records": [EVENT]})
    assert cloudtrail.decompress(gzip.compress(raw)) == raw
    assert cloudtrail.decompress(raw) == raw


def test_truncated_gzip_is_unreadable_with_reason() -> None:
    data = gzip.compress(orjson.dumps({"Records": [EVENT] * 50}))
    with pytest.raises(UnreadableInput, match="corrupt gzip"):
        cloudtrail.decompress(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("uri", "text", "skipped"),
    [
        ("logs/README.md", b"# notes", True),
        ("logs/x.json", b"# notes", False),  # the name promises JSON: a bad input, not a skip
        ("logs/x.json.gz", b"\x00\x01", False),
        ("logs/export", b'{"eventName": "x"}', False),
        ("logs/manifest.txt", b"  [1]", False),
    ],
)
def test_not_json_reason(uri: str, text: bytes, skipped: bool) -> None:
    assert (cloudtrail.not_json_reason(uri, text) is not None) is skipped


@pytest.mark.parametrize("index", [0, 7, 10_000, 123_456_789])
@pytest.mark.parametrize("records", [1, 2, 5])
def test_fast_lines_count_one_event_a_line_whatever_the_file_index(index: int,
                                                                    records: int) -> None:
    """The count comes from how much the split grew, which depends on the tag's length."""
    text = orjson.dumps({"Records": [EVENT, EVENT2] * records})
    spool, count = cloudtrail.fast_lines(index, text)  # type: ignore[misc]
    assert count == 2 * records == len(spool.splitlines())
    assert events_of(spool, index) == [EVENT, EVENT2] * records
