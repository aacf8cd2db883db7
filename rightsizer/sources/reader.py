"""Read log objects in parallel into spool files, one chunk at a time.

Worker processes (one per core) fetch, decompress and rewrite the files of a chunk into one
newline-delimited spool file (see ``cloudtrail``), streaming: a worker holds one file at a time.
A ``finish`` step given by the caller then runs on the spool in the same worker (the store's
typing of its events, ``store.staging``). The main process loads finished spools into the
store while the workers prepare the next ones, and at most a few chunks are in flight, so
memory stays bounded whatever the input size.
"""

from __future__ import annotations

import hashlib
import io
import logging
import multiprocessing
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from rightsizer.sources import cloudtrail, inflate, locate
from rightsizer.sources.locate import BadInput, LogObject, Skipped

log = logging.getLogger(__name__)

# A chunk ends at whichever comes first. Larger chunks mean fewer store transactions (each
# deduplicates against the whole store); smaller ones keep the pipeline full. bench/ingest.py.
CHUNK_BYTES = 8 * 1024 * 1024  # compressed bytes read
CHUNK_FILES = 1_000

# A gzip file larger than this is decompressed as a stream, never whole into memory.
STREAM_COMPRESSED_BYTES = 24 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    """Files to read into one spool; a file's index in ``objects`` is its ``__s`` in the spool."""

    number: int
    objects: tuple[LogObject, ...]


@dataclass(frozen=True, slots=True)
class Spooled:
    """A chunk read into a spool file. ``events`` maps the index of every spooled file to the
    number of events its lines hold; ``careful`` maps a file index to the problem the careful
    path found in it (None: none); files not in it took the fast path. ``bad`` files gave
    nothing to spool; ``skipped`` files were not CloudTrail files at all."""

    chunk: Chunk
    spool: Path
    events: dict[int, int]
    careful: dict[int, str | None]
    bad: tuple[BadInput, ...]
    skipped: tuple[Skipped, ...]
    bytes_read: int
    # The SHA-256 (hex) of each spooled file's uncompressed content, by index: what CloudTrail's
    # digest files record of it.
    hashes: dict[int, str] = field(default_factory=dict)


def plan_chunks(objects: Iterable[LogObject], max_files: int = CHUNK_FILES,
                max_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Group objects into chunks by count and size, in the order given."""
    batch: list[LogObject] = []
    size = 0
    number = 0
    for obj in objects:
        if batch and (len(batch) >= max_files or size + obj.size > max_bytes):
            yield Chunk(number, tuple(batch))
            number += 1
            batch, size = [], 0
        batch.append(obj)
        size += obj.size
    if batch:
        yield Chunk(number, tuple(batch))


@dataclass(frozen=True, slots=True)
class LargeFile:
    """A local file too large to read whole: the spooler streams it from its path."""

    path: str


Fetched = bytes | LargeFile | BadInput
Fetcher = Callable[[Sequence[str]], Iterator[tuple[str, Fetched]]]


def read_local(uris: Sequence[str]) -> Iterator[tuple[str, Fetched]]:
    """Local files, in order; a file that cannot be read is a bad input with the OS's reason."""
    for uri in uris:
        try:
            fd = open_regular(uri)
        except OSError as exc:
            yield uri, BadInput(uri, f"cannot read: {exc.strerror or exc}")
            continue
        except NotRegular as exc:
            yield uri, BadInput(uri, str(exc))
            continue
        try:
            if os.fstat(fd).st_size > STREAM_COMPRESSED_BYTES:
                yield uri, LargeFile(uri)
                continue
            with open(fd, "rb", closefd=False) as fh:
                data = fh.read()
        except OSError as exc:
            yield uri, BadInput(uri, f"cannot read: {exc.strerror or exc}")
            continue
        finally:
            os.close(fd)
        yield uri, data


class NotRegular(Exception):
    """A path that is a FIFO, a device or a socket: never read (a FIFO blocks for ever)."""


def open_regular(path: str) -> int:
    """A descriptor of ``path``, opened without blocking and checked to be a regular file
    after opening (the file could have been swapped since it was listed)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(f"not a regular file ({locate.special_kind(mode)}): not read")
    os.set_blocking(fd, True)
    return fd


def spool_chunk(chunk: Chunk, spool_dir: Path, fetch: Fetcher | None = None,
                only: Iterable[int] | None = None) -> Spooled:
    """Fetch, decompress and rewrite the files of a chunk into one spool file.

    With ``only``, just those files are read again, all on the careful path: the store could not
    load their fast-path lines (broken or truncated JSON)."""
    fetch = fetch or read_local
    indexes = sorted(set(only)) if only is not None else range(len(chunk.objects))
    position = {chunk.objects[i].uri: i for i in indexes}
    suffix = "-careful" if only is not None else ""
    spool = spool_dir / f"chunk-{chunk.number:06d}{suffix}.ndjson"
    events: dict[int, int] = {}
    careful: dict[int, str | None] = {}
    hashes: dict[int, str] = {}
    bad: list[BadInput] = []
    skipped: list[Skipped] = []
    total = 0
    try:
        out = open(spool, "wb")  # noqa: SIM115 (closed below, where a full disk shows too)
    except OSError as exc:
        raise SpoolWriteError(spool, exc) from exc
    write = _spool_writer(out, spool)
    try:
        for uri, data in fetch([chunk.objects[i].uri for i in indexes]):
            index = position[uri]
            if isinstance(data, BadInput):
                bad.append(data)
                continue
            try:
                size = chunk.objects[index].size if isinstance(data, LargeFile) else len(data)
                total += size
                with _opened(data) as raw, inflate.content(raw, size) as content:
                    if isinstance(content, inflate.Stream):
                        reason = cloudtrail.not_json_reason(uri, content.head)
                        if reason:
                            skipped.append(Skipped(uri, reason))
                            continue
                        result = cloudtrail.stream_spool(index, content, write)
                        hashes[index] = content.sha256.hexdigest()
                    else:
                        reason = cloudtrail.not_json_reason(uri, content)
                        if reason:
                            skipped.append(Skipped(uri, reason))
                            continue
                        hashes[index] = hashlib.sha256(content).hexdigest()
                        fast = None if only is not None else cloudtrail.fast_lines(index, content)
                        if fast is not None:
                            write(fast[0])
                            events[index] = fast[1]
                            continue
                        result = cloudtrail.careful_spool(index, content, write)
                events[index] = result.events
                careful[index] = result.problem
            except (cloudtrail.UnreadableInput, inflate.InflateError) as exc:
                bad.append(BadInput(uri, str(exc)))
            except OSError as exc:
                bad.append(BadInput(uri, f"cannot read: {exc.strerror or exc}"))
            except NotRegular as exc:
                bad.append(BadInput(uri, str(exc)))
        try:
            out.close()
        except OSError as exc:
            raise SpoolWriteError(spool, exc) from exc
    finally:
        if not out.closed:  # an error is on its way out: closing must not replace it
            with suppress(OSError):
                out.close()
    return Spooled(chunk, spool, events, careful, tuple(bad), tuple(skipped), total, hashes)


class SpoolWriteError(Exception):
    """The spool could not be written (a full disk, a read-only folder): the fault of the
    machine, not of the file being read, which must not be named a bad input for it."""

    def __init__(self, spool: Path, cause: OSError) -> None:
        self.spool = str(spool)
        self.reason = cause.strerror or str(cause)
        super().__init__(self.spool, cause)

    def __str__(self) -> str:
        return f"cannot write the spool {self.spool}: {self.reason}"

    def __reduce__(self) -> tuple[object, ...]:  # crosses the worker pool's pipe
        return (_rebuild_spool_error, (self.spool, self.reason))


def _rebuild_spool_error(spool: str, reason: str) -> SpoolWriteError:
    return SpoolWriteError(Path(spool), OSError(0, reason))


def _spool_writer(out: BinaryIO, spool: Path) -> cloudtrail.Write:
    """``out.write``, raising SpoolWriteError where writing fails: a read of the input raises
    OSError too, and only that one makes the input bad."""
    def write(data: bytes) -> None:
        try:
            out.write(data)
        except OSError as exc:
            raise SpoolWriteError(spool, exc) from exc
    return write


def _opened(data: bytes | LargeFile) -> BinaryIO:
    """The raw bytes of a fetched file, as a file object: a large local file is read from its
    path as it is needed, never whole."""
    if isinstance(data, LargeFile):
        return open(open_regular(data.path), "rb")  # closed by the caller's with
    return io.BytesIO(data)


Finish = Callable[[Path], Path]


def finished(spooled: Spooled, finish: Finish | None) -> Spooled:
    """The spool after the caller's ``finish`` step, which gives the file that replaces it; a
    failure to write is the machine's fault, as for the spool itself."""
    if finish is None:
        return spooled
    try:
        return replace(spooled, spool=finish(spooled.spool))
    except OSError as exc:
        raise SpoolWriteError(spooled.spool, exc) from exc


class ParallelSpooler:
    """Spools chunks on a process pool, yielding them as they finish, a bounded number ahead;
    each spool goes through ``finish`` (a picklable function) in the worker that wrote it."""

    def __init__(self, spool_dir: Path, workers: int | None = None,
                 fetcher_factory: Callable[[], Fetcher] | None = None,
                 finish: Finish | None = None) -> None:
        self.spool_dir = spool_dir
        self.workers = workers or os.cpu_count() or 1
        self.fetcher_factory = fetcher_factory
        self.finish = finish

    def run(self, chunks: Iterable[Chunk]) -> Iterator[Spooled]:
        if self.workers <= 1:
            fetch = self.fetcher_factory() if self.fetcher_factory else None
            for chunk in chunks:
                yield finished(spool_chunk(chunk, self.spool_dir, fetch), self.finish)
            return
        # forkserver: workers do not inherit the parent's DuckDB threads or open handles.
        context = multiprocessing.get_context("forkserver")
        ahead = self.workers * 2
        with ProcessPoolExecutor(self.workers, mp_context=context,
                                 initializer=_init_worker,
                                 initargs=(self.fetcher_factory,)) as pool:
            pending: set[Future[Spooled]] = set()
            source = iter(chunks)
            exhausted = False
            while True:
                while not exhausted and len(pending) < ahead:
                    chunk = next(source, None)
                    if chunk is None:
                        exhausted = True
                        break
                    pending.add(pool.submit(_spool_in_worker, chunk, self.spool_dir,
                                            self.finish))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: f.result().chunk.number):
                    yield future.result()


_worker_fetch: Fetcher | None = None


def _init_worker(factory: Callable[[], Fetcher] | None) -> None:
    global _worker_fetch
    _worker_fetch = factory() if factory else None


def _spool_in_worker(chunk: Chunk, spool_dir: Path, finish: Finish | None) -> Spooled:
    return finished(spool_chunk(chunk, spool_dir, _worker_fetch), finish)
