"""Ingest: CloudTrail from local paths and S3 (and Athena's aggregates) into the store, each
file at most once, each event once, and an ``IngestSummary`` of what was done."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rightsizer.errors import ConfigError, SourceError, StoreError
from rightsizer.pipeline.digests import DigestReading
from rightsizer.pipeline.inputs import require_inputs
from rightsizer.sources import athena, locate, reader, s3
from rightsizer.sources.athena import AthenaOptions
from rightsizer.sources.digests import DIGEST_FOLDER
from rightsizer.sources.locate import (
    NOT_EVENTS,
    BadInput,
    DeliveryFolder,
    LogObject,
    Scope,
    Skipped,
)
from rightsizer.sources.s3 import S3Options
from rightsizer.store import staging
from rightsizer.store.connected import Columns
from rightsizer.store.database import (
    FIRST_EVENT,
    BadFile,
    FileRef,
    LoadResult,
    Store,
    write_fault,
)
from rightsizer.store.lock import store_lock

log = logging.getLogger(__name__)


# Objects are checked against the ledger in batches, so a listing of millions of keys is never
# held whole.
LEDGER_BATCH = 20_000

# Spools are loaded in one transaction until about this many events. DuckDB writes an insert of
# at least a row group (122,880 rows) straight to the database file, compressed, where smaller
# commits go through the write-ahead log first and are written again at checkpoint: measured
# here, 17 commits of 12k events cost 3 s, most of the store's time (bench/ingest.py). Each
# transaction also scans the eventIDs the store holds, once, for repeats: larger ones scan
# less often (1M events: the writer's CPU 21 s at 400,000 against 24 s at 150,000). The staged
# events are not held in memory (they are read where the readers wrote them), so the size
# bounds only the work a killed run redoes.
COMMIT_EVENTS = 400_000

# The store's DuckDB memory while ingesting. Scanning the stored eventIDs fills it at 10M
# events; the readers' own DuckDBs take about 170 MiB each beside it. 1M events: the writer's
# peak 571 MiB and 23.0 s of CPU at 448 MB, 642 MiB and 20.8 s at 512 MB (384 MB: 24.5-29 s).
INGEST_MEMORY = "448MB"

ProgressCallback = Callable[[int, int], None]  # (files done, bytes read) since the last call


@dataclass(frozen=True)
class PathReason:
    path: str
    reason: str


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did; ``as_json`` gives the CLI's ``--json`` object."""

    files_seen: int
    files_ingested: int
    files_already_ingested: int
    files_skipped: tuple[PathReason, ...]
    events_ingested: int
    events_duplicate: int
    bad_inputs: tuple[PathReason, ...]
    seconds: float
    # Of the duplicates, those whose eventID came with other contents (a forged or damaged
    # record): the first read is kept, the others are in the store's event_id_conflicts.
    events_conflicting: int = 0
    run_id: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)
    athena_queries: tuple[AthenaQueryReport, ...] = ()
    # CloudTrail digest files read and stored for the integrity check (they hold no events).
    digest_files_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.bad_inputs

    @property
    def athena_bytes_scanned(self) -> int:
        return sum(q.bytes_scanned for q in self.athena_queries)

    @property
    def athena_cost_usd(self) -> float:
        return sum(q.cost_usd for q in self.athena_queries)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["athena_bytes_scanned"] = self.athena_bytes_scanned
        data["athena_cost_usd"] = round(self.athena_cost_usd, 6)
        return data


@dataclass(frozen=True)
class AthenaQueryReport:
    """One Athena usage query of an ingest: the account and window it read, what it cost."""

    source: str
    account: str
    query_id: str
    since: str
    until: str
    rows: int
    bytes_scanned: int
    cost_usd: float
    seconds: float


@dataclass
class _Tally:
    seen: int = 0
    ingested: int = 0
    already: int = 0
    new: int = 0
    duplicate: int = 0
    conflicting: int = 0
    skipped: list[PathReason] = field(default_factory=list)
    bad: list[PathReason] = field(default_factory=list)
    athena: list[AthenaQueryReport] = field(default_factory=list)
    digest_folders: list[str] = field(default_factory=list)
    digests: int = 0
    # Delivery folders listed file by file whose every file was to be read: recorded as read
    # whole once the source is loaded, if every one of their files then is.
    listed_folders: list[DeliveryFolder] = field(default_factory=list)


def ingest(sources: Sequence[str], db: str | Path, *, scope: Scope | None = None,
           s3_options: S3Options | None = None, athena: AthenaOptions | None = None,
           athena_accounts: Sequence[str] = (), principals: Sequence[str] = (),
           today: date | None = None,
           workers: int | None = None,
           progress: ProgressCallback | None = None,
           on_total: Callable[[int], None] | None = None,
           chunk_files: int = reader.CHUNK_FILES,
           commit_events: int = COMMIT_EVENTS) -> IngestSummary:
    """Read CloudTrail from each source into the store at ``db``: files from a file, a folder
    or ``s3://bucket/prefix``; aggregates from ``athena://DATABASE.TABLE`` (see
    ``_ingest_athena``: ``athena_accounts`` or the scope's accounts, the scope's window or the
    last 90 days to ``today``, the roles ECS assumed plus ``principals``). Bad inputs are
    recorded and reported, never fatal: everything readable is still stored. Raises
    ConfigError for a source that is not understood, StoreBusy while another run holds the
    store.

    Tuning knobs: ``chunk_files``, the most files in one spool; ``commit_events``, about how
    many events one store transaction holds (a killed run redoes at most that much)."""
    require_inputs(("", source) for source in sources)
    started = time.perf_counter()
    scope = scope or Scope()
    run_id = uuid.uuid4().hex
    tally = _Tally()
    seen: set[str] = set()  # the files met in this run, and the folders read whole (path + /)
    # The store's DuckDB gets one thread: the readers keep the other cores busy, and a second
    # thread made the writer's work cost a third more CPU for no less time (1M events: 43 s of
    # CPU against 33 s, measured).
    with (store_lock(db), _spool_faults(db), spool_folder(db) as spool_root,
          Store(db, threads=1, memory_limit=INGEST_MEMORY) as store):
        store.start_run(run_id, sources)
        for source in sources:
            if source.startswith("athena://"):
                athena_scope = replace(scope, accounts=frozenset(athena_accounts)
                                       or scope.accounts)
                _ingest_athena(source, store, athena_scope, athena or AthenaOptions(),
                               principals, today or datetime.now(UTC).date(), run_id, tally)
                continue
            _ingest_source(source, store, scope, s3_options, workers, run_id, tally,
                           seen, spool_root, progress, on_total, chunk_files,
                           commit_events)
        summary = IngestSummary(
            files_seen=tally.seen,
            files_ingested=tally.ingested,
            files_already_ingested=tally.already,
            files_skipped=tuple(tally.skipped),
            events_ingested=tally.new,
            events_duplicate=tally.duplicate,
            bad_inputs=tuple(tally.bad),
            seconds=time.perf_counter() - started,
            events_conflicting=tally.conflicting,
            run_id=run_id,
            sources=tuple(sources),
            athena_queries=tuple(tally.athena),
            digest_files_read=tally.digests,
        )
        store.finish_run(run_id, summary.as_json())
    return summary


@contextmanager
def _spool_faults(db: str | Path) -> Iterator[None]:
    """A spool that cannot be written is the store's folder failing (spools sit beside the
    store): a StoreError (exit 2), never a bad input blamed on the file being read."""
    try:
        yield
    except reader.SpoolWriteError as exc:
        raise StoreError(write_fault(Path(db), exc)) from None


@contextmanager
def spool_folder(db: str | Path) -> Iterator[Path]:
    """A private folder (mode 0700) beside the store for this run's spools, which hold raw
    events: removed when the run ends, however it ends short of a kill -9, and a killed run's
    folder is removed by the next run (the store's lock, held by the caller, says that no run
    of this store is still using one)."""
    store = Path(db).resolve()
    prefix = f".{store.name}.spool-"
    store.parent.mkdir(parents=True, exist_ok=True)
    for stale in store.parent.glob(prefix + "*"):
        log.info("removing %s, the spool folder of a run that did not finish", stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        root = Path(tempfile.mkdtemp(prefix=prefix, dir=store.parent))
    except OSError as exc:
        raise StoreError(write_fault(store, exc)) from None
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# Without a window, an Athena ingest reads the last this many days (the store keeps what it got,
# so a later, wider window adds the days before).
ATHENA_DEFAULT_DAYS = 90


def _ingest_athena(source: str, store: Store, scope: Scope, options: AthenaOptions,
                   principals: Sequence[str], today: date, run_id: str, tally: _Tally) -> None:
    """Run the usage query in Athena, one query per account, and store the aggregates.

    Incremental: a day already covered by a query that ran after the day settled is not asked
    again, so a daily run reads about two days per account. A failed query is a bad input
    named with its account; the other accounts are still read, and what the store held for
    the failed one stays."""
    table = athena.parse_athena_uri(source)
    if not scope.accounts:
        raise ConfigError(f"{source}: name the accounts to read (--account, or athena.accounts "
                          "in the configuration): each query reads one account's partitions")
    first = scope.since or today - timedelta(days=ATHENA_DEFAULT_DAYS - 1)
    last = scope.until or today
    if first > last:
        raise ConfigError(f"{source}: the window starts {first}, after its end {last}")
    end = _midnight(last + timedelta(days=1))
    plans = []
    for account in sorted(scope.accounts):
        settled = store.athena_settled_days(table.uri, account)
        start = next((d for d in _days(first, last) if d not in settled), None)
        if start is None:
            log.info("%s account %s: every day of %s..%s already read", source, account, first,
                     last)
            continue
        plans.append((account, _midnight(start)))

    if not plans:
        return
    # One connection for every account (its session resolves credentials once), shared by the
    # threads that wait on the queries.
    with (athena.athena_connection(options) as connection,
          ThreadPoolExecutor(max_workers=options.concurrency) as pool):
        queried = sorted(scope.accounts)
        futures = {pool.submit(athena.run_usage_query, connection, table, account, start, end,
                               options, principals, queried): (account, start)
                   for account, start in plans}
        for future in as_completed(futures):
            account, start = futures[future]
            try:
                rows, stats = future.result()
            except athena.QueryFailed as exc:
                log.error("%s", exc)
                tally.bad.append(PathReason(exc.source, exc.reason))
                store.record_bad([BadFile(exc.source, exc.reason)], run_id)
                continue
            overlap = store.local_role_events(account, start, end)
            if overlap:  # the analysis reads both: these calls count twice
                log.warning("%s account %s: the store also holds %d role calls of this account "
                            "and window read from files; feed an account one way (files or "
                            "Athena), or its calls are counted twice", source, account, overlap)
            store.replace_athena_usage(table.uri, account, _athena_rows(rows),
                                       asdict(stats), run_id)
            tally.athena.append(AthenaQueryReport(
                source=table.uri, account=account, query_id=stats.query_id,
                since=start.date().isoformat(), until=end.date().isoformat(), rows=stats.rows,
                bytes_scanned=stats.bytes_scanned, cost_usd=stats.cost_usd,
                seconds=round(stats.seconds, 3)))
    tally.athena.sort(key=lambda q: (q.source, q.account))


def _athena_rows(rows: Sequence[athena.AthenaUsageRow]) -> Columns:
    """The rows as the columns ``Store.replace_athena_usage`` takes."""
    return {name: (sql_type, [getattr(row, name) for row in rows])
            for name, sql_type in _ATHENA_COLUMNS}


# The columns of athena_usage that a usage query gives (schema/002_athena_usage.sql).
_ATHENA_COLUMNS = (
    ("kind", "VARCHAR"), ("principal", "VARCHAR"), ("event_source", "VARCHAR"),
    ("event_name", "VARCHAR"), ("region", "VARCHAR"), ("account", "VARCHAR"),
    ("request_key", "VARCHAR"), ("resource_arns", "VARCHAR[]"), ("day", "DATE"),
    ("error_class", "VARCHAR"), ("invoked_by", "VARCHAR"), ("calls", "BIGINT"),
    ("sessions", "BIGINT"), ("first_seen", "TIMESTAMP"), ("last_seen", "TIMESTAMP"),
    ("error_code", "VARCHAR"),
)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _ingest_source(source: str, store: Store, scope: Scope, s3_options: S3Options | None,
                   workers: int | None, run_id: str, tally: _Tally, seen: set[str],
                   spool_root: Path, progress: ProgressCallback | None,
                   on_total: Callable[[int], None] | None, chunk_files: int,
                   commit_events: int) -> None:
    folders = len(tally.digest_folders)
    tally.listed_folders = []
    try:
        listing, fetcher_factory = _open_source(source, scope, s3_options, store)
        to_read = list(_new_objects(listing, store, run_id, tally, seen))
    except SourceError as exc:
        log.error("%s", exc)
        tally.bad.append(PathReason(source, str(exc)))
        store.record_bad([BadFile(source, str(exc))], run_id)
        return
    if on_total:
        on_total(len(to_read))
    # The digests beside the logs, for the integrity check: they are read (not ingested) in a
    # thread while the logs are, and stored between the logs' transactions.
    digest_reading = DigestReading(tally.digest_folders[folders:], store, scope, s3_options)
    try:
        _spool_and_load(to_read, store, run_id, tally, spool_root, fetcher_factory, workers,
                        progress, chunk_files, commit_events, digest_reading)
    except BaseException:
        digest_reading.cancel()
        raise
    _record_read_folders(tally, to_read, store, run_id)
    read, bad = digest_reading.finish(store, run_id)
    tally.digests += read
    tally.bad.extend(PathReason(b.uri, b.reason) for b in bad)


def _spool_and_load(to_read: list[LogObject], store: Store, run_id: str, tally: _Tally,
                    spool_root: Path, fetcher_factory: Callable[[], reader.Fetcher] | None,
                    workers: int | None, progress: ProgressCallback | None, chunk_files: int,
                    commit_events: int, digest_reading: DigestReading) -> None:
    """Read the files in parallel into spools and load them, a transaction at a time."""
    spooler = reader.ParallelSpooler(spool_root, workers, fetcher_factory, staging.type_spool)
    fetch = fetcher_factory() if fetcher_factory else None
    spools = spooler.run(reader.plan_chunks(to_read, chunk_files))
    try:
        _load_transactions(spools, store, run_id, tally, spool_root, fetch, progress,
                           commit_events, digest_reading)
    finally:
        staging.release()  # typed here when run in one process, or for a careful pass


def _load_transactions(spools: Iterator[reader.Spooled], store: Store, run_id: str,
                       tally: _Tally, spool_root: Path, fetch: reader.Fetcher | None,
                       progress: ProgressCallback | None, commit_events: int,
                       digest_reading: DigestReading) -> None:
    """Load the spools as they come, a transaction at a time."""
    while True:
        # One transaction holds spools until about commit_events events: all of them, their
        # ledger rows and bad inputs are stored together, or none is.
        exhausted = True
        with store.transaction(run_id) as committed:
            for spooled in spools:
                _load(spooled, store, run_id, tally, spool_root, fetch)
                if progress:
                    progress(len(spooled.chunk.objects), spooled.bytes_read)
                if committed.events >= commit_events:
                    exhausted = False
                    break
        tally.new += committed.events_new
        tally.duplicate += committed.events_duplicate
        if committed.events_conflicting:
            log.warning("%d events repeat an eventID with other contents (a forged or damaged "
                        "record?): the first read is kept; the others are in the store's "
                        "event_id_conflicts table", committed.events_conflicting)
        tally.conflicting += committed.events_conflicting
        digest_reading.drain(store, run_id)
        if exhausted:
            break


def _load(spooled: reader.Spooled, store: Store, run_id: str, tally: _Tally, spool_root: Path,
          fetch: reader.Fetcher | None) -> None:
    """Load one spool into the store's open transaction, and read again carefully the files it
    could not take."""
    refs = [_file_ref(i, o) for i, o in enumerate(spooled.chunk.objects)]
    bad = [BadFile(b.uri, b.reason, _fingerprint(spooled.chunk, b.uri)) for b in spooled.bad]
    tally.skipped.extend(PathReason(s.uri, s.reason) for s in spooled.skipped)
    unread = {b.uri for b in spooled.bad} | {s.uri for s in spooled.skipped}
    result = store.load_spool(spooled.spool, [r for r in refs if r.uri not in unread],
                              run_id=run_id, expected=spooled.events, problems=spooled.careful,
                              bad=bad)  # the store removes the spool when its transaction ends
    store.record_file_hashes((refs[i].uri, sha256) for i, sha256 in spooled.hashes.items())
    _count(result, tally)
    if result.missing:
        # The store did not read these files' fast-path lines as written: read them again, in
        # Python, salvaging what is readable and naming what is not.
        again = reader.finished(reader.spool_chunk(spooled.chunk, spool_root, fetch,
                                                   only=result.missing), staging.type_spool)
        again_bad = [BadFile(b.uri, b.reason, _fingerprint(spooled.chunk, b.uri))
                     for b in again.bad]
        again_unread = {b.uri for b in again.bad}
        result = store.load_spool(
            again.spool, [refs[i] for i in result.missing if refs[i].uri not in again_unread],
            run_id=run_id, expected=again.events, problems=again.careful, bad=again_bad,
            careful_pass=True)
        _count(result, tally)


# How far an event's time may lie from its file's delivery date (the date folder of the layout,
# in UTC). CloudTrail delivers within minutes on average, not guaranteed
# (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-cloudtrail-works.html);
# a week before is generous, and an event cannot be later than its delivery (an hour of
# clock skew allowed). Outside, the record is bad.
DELIVERY_EARLIEST = timedelta(days=7)
DELIVERY_LATEST = timedelta(days=1, hours=1)


def _file_ref(index: int, obj: LogObject) -> FileRef:
    """The store's view of a file: with the times its events can have when its place in the
    delivery layout says when it was delivered."""
    delivered = locate.parse_layout(obj.uri).delivery_date
    if delivered is None:
        return FileRef(index, obj.uri, obj.fingerprint, obj.size)
    day = datetime(delivered.year, delivered.month, delivered.day)
    return FileRef(index, obj.uri, obj.fingerprint, obj.size,
                   earliest=max(day - DELIVERY_EARLIEST, FIRST_EVENT),
                   latest=day + DELIVERY_LATEST)


def _open_source(source: str, scope: Scope, s3_options: S3Options | None, store: Store
                 ) -> tuple[Iterable[LogObject | Skipped | BadInput | DeliveryFolder],
                            Callable[[], reader.Fetcher] | None]:
    """The listing of a source and, for remote ones, a picklable factory of its fetcher. A
    local listing skips the delivery folders the store holds as read whole."""
    if source.startswith("s3://"):
        options = s3_options or S3Options()
        client = s3.make_client(options)  # boto3 is imported only when S3 is used
        return s3.s3_objects(client, source, scope), s3.FetcherFactory(options)
    if "://" in source:
        raise ConfigError(f"{source}: unsupported source (a file, a folder, s3://bucket/prefix "
                          "or athena://DATABASE.TABLE)")
    read_folders = store.read_folders(source, scope.delivery_days())
    return locate.local_objects(source, scope, read_folders), None


def _new_objects(listing: Iterable[LogObject | Skipped | BadInput | DeliveryFolder],
                 store: Store, run_id: str, tally: _Tally, seen: set[str]
                 ) -> Iterator[LogObject]:
    """The objects of a listing that the ledger does not hold yet; counts the rest."""
    batch: list[LogObject] = []
    for item in listing:
        if isinstance(item, DeliveryFolder):
            if item.known and item.path + os.sep not in seen:
                seen.add(item.path + os.sep)
                tally.seen += item.files
                tally.already += item.files
            elif not item.known:
                tally.listed_folders.append(item)
        elif isinstance(item, LogObject):
            if item.uri in seen:
                continue
            seen.add(item.uri)
            tally.seen += 1
            batch.append(item)
            if len(batch) >= LEDGER_BATCH:
                yield from _filter_ingested(batch, store, tally)
                batch = []
        elif isinstance(item, Skipped):
            tally.seen += 1
            tally.skipped.append(PathReason(item.uri, item.reason))
            if item.reason == NOT_EVENTS[DIGEST_FOLDER]:
                tally.digest_folders.append(item.uri)
        else:
            tally.seen += 1
            tally.bad.append(PathReason(item.uri, item.reason))
            store.record_bad([BadFile(item.uri, item.reason)], run_id)
    yield from _filter_ingested(batch, store, tally)


def _filter_ingested(batch: list[LogObject], store: Store, tally: _Tally) -> Iterator[LogObject]:
    done = store.already_ingested((o.uri, o.fingerprint) for o in batch)
    tally.already += len(done)
    return (o for o in batch if o.uri not in done)


def _record_read_folders(tally: _Tally, to_read: Sequence[LogObject], store: Store,
                         run_id: str) -> None:
    """Record the delivery folders of the source just loaded whose every file is now read."""
    whole = locate.folders_read_whole(
        tally.listed_folders, (p.path for p in (*tally.bad, *tally.skipped)),
        ((o.uri, o.fingerprint) for o in to_read), store.already_ingested)
    store.record_read_folders([(f.path, f.fingerprint, f.files, f.delivery_date)
                               for f in whole], run_id)


def _count(result: LoadResult, tally: _Tally) -> None:
    tally.ingested += result.files_ingested
    tally.bad.extend(PathReason(b.uri, b.reason) for b in result.bad)


def _fingerprint(chunk: reader.Chunk, uri: str) -> str | None:
    return next((o.fingerprint for o in chunk.objects if o.uri == uri), None)
