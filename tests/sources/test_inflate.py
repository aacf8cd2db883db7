"""A file's content is the same whether it is read from memory (small files, in one call) or
streamed from its path: the same bytes, or the same fault named the same way."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest

from rightsizer.sources import inflate

EVENTS = b'{"Records":[{"eventVersion":"1.08","eventName":"GetObject"}]}'


def _gzip_bad_crc(data: bytes) -> bytes:
    packed = bytearray(gzip.compress(data))
    packed[-8] ^= 0xFF  # the CRC32 of the trailer
    return bytes(packed)


def _deflate_garbage() -> bytes:
    packed = bytearray(gzip.compress(EVENTS * 50))
    packed[20:40] = b"\xff" * 20
    return bytes(packed)


CASES = {
    "one gzip member": gzip.compress(EVENTS),
    "two gzip members": gzip.compress(EVENTS) + gzip.compress(EVENTS),
    "trailing zeros": gzip.compress(EVENTS) + b"\0" * 16,
    "trailing garbage": gzip.compress(EVENTS) + b"not gzip",
    "truncated": gzip.compress(EVENTS * 20)[:-30],
    "cut in the trailer": gzip.compress(EVENTS)[:-3],
    "bad crc": _gzip_bad_crc(EVENTS),
    "corrupt deflate": _deflate_garbage(),
    "empty content": gzip.compress(b""),
    "zlib, not gzip": zlib.compress(EVENTS),
    "plain json": EVENTS,
    "empty file": b"",
}


def _read(raw: io.BufferedIOBase | io.BytesIO, size: int) -> bytes | str:
    """The whole content, or the fault named; a Stream read to its end."""
    try:
        with inflate.content(raw, size) as value:
            if isinstance(value, inflate.Stream):
                return b"stream:" + inflate._read_all(value)
            return value
    except inflate.InflateError as exc:
        return f"InflateError: {exc}"
    except Exception as exc:  # any other fault: the comparison is the test
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_memory_and_stream_give_the_same_content_or_fault(name: str, tmp_path: Path) -> None:
    data = CASES[name]
    path = tmp_path / "file.json.gz"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        streamed = _read(fh, len(data))
    assert _read(io.BytesIO(data), len(data)) == streamed


def test_two_members_are_both_read() -> None:
    data = CASES["two gzip members"]
    assert _read(io.BytesIO(data), len(data)) == EVENTS + EVENTS


@pytest.mark.parametrize("name", ["truncated", "bad crc", "corrupt deflate"])
def test_a_broken_gzip_is_named(name: str) -> None:
    data = CASES[name]
    assert str(_read(io.BytesIO(data), len(data))).startswith("InflateError: corrupt gzip")


def test_small_files_take_the_one_call_and_nothing_else_does(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert inflate._small_whole(CASES["one gzip member"], gzipped=True) == EVENTS
    assert inflate._small_whole(EVENTS, gzipped=False) == EVENTS
    for name in ("two gzip members", "trailing zeros", "truncated", "bad crc",
                 "corrupt deflate", "empty content"):
        assert inflate._small_whole(CASES[name], gzipped=True) is None, name
    monkeypatch.setattr(inflate, "WHOLE_BYTES", len(EVENTS) - 1)
    assert inflate._small_whole(CASES["one gzip member"], gzipped=True) is None
    assert inflate._small_whole(EVENTS, gzipped=False) is None


def test_content_over_the_whole_limit_streams_from_memory_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inflate, "WHOLE_BYTES", 100)
    data = gzip.compress(EVENTS * 10)
    with inflate.content(io.BytesIO(data), len(data)) as value:
        assert isinstance(value, inflate.Stream)
        assert inflate._read_all(value) == EVENTS * 10
