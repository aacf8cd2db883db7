"""The only composer: sources -> store -> iam / analysis (-> proposal -> report, later).

``ingest`` reads CloudTrail from local paths and S3 into the store, each file at most once,
each event once, and says what it did in an ``IngestSummary``. ``inventory`` reads IAM and ECS
(files or live) and the store's evidence of ECS assuming roles, and classifies the roles.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources import locate, reader, s3
from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.locate import BadInput, LogObject, Scope, Skipped
from rightsizer.sources.s3 import S3Options
from rightsizer.store.database import BadFile, FileRef, LoadResult, Store
from rightsizer.store.records import EcsAssumption

if TYPE_CHECKING:
    from rightsizer.analysis.inventory import Inventory

log = logging.getLogger(__name__)

# Objects are checked against the ledger in batches, so a listing of millions of keys is never
# held whole.
LEDGER_BATCH = 20_000

# Spools are loaded in one transaction until about this many events. DuckDB writes an insert of
# at least a row group (122,880 rows) straight to the database file, compressed, where smaller
# commits go through the write-ahead log first and are written again at checkpoint: measured
# here, 17 commits of 12k events cost 3 s, most of the store's time (bench/ingest.py).
COMMIT_EVENTS = 150_000

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
    run_id: str = ""
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.bad_inputs

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass
class _Tally:
    seen: int = 0
    ingested: int = 0
    already: int = 0
    new: int = 0
    duplicate: int = 0
    skipped: list[PathReason] = field(default_factory=list)
    bad: list[PathReason] = field(default_factory=list)


def ingest(sources: Sequence[str], db: str | Path, *, scope: Scope | None = None,
           s3_options: S3Options | None = None, workers: int | None = None,
           progress: ProgressCallback | None = None,
           on_total: Callable[[int], None] | None = None,
           chunk_files: int = reader.CHUNK_FILES,
           commit_events: int = COMMIT_EVENTS) -> IngestSummary:
    """Read CloudTrail files from each source (a file, a folder, ``s3://bucket/prefix``) into
    the store at ``db``. Bad inputs are recorded and reported, never fatal: everything
    readable is still stored. Raises ConfigError for a source that is not understood.

    Tuning knobs: ``chunk_files``, the most files in one spool; ``commit_events``, about how
    many events one store transaction holds (a killed run redoes at most that much)."""
    started = time.perf_counter()
    scope = scope or Scope()
    run_id = uuid.uuid4().hex
    tally = _Tally()
    seen_uris: set[str] = set()
    spool_root = Path(tempfile.mkdtemp(prefix="rightsizer-spool-"))
    try:
        with Store(db) as store:
            store.start_run(run_id, sources)
            for source in sources:
                _ingest_source(source, store, scope, s3_options, workers, run_id, tally,
                               seen_uris, spool_root, progress, on_total, chunk_files,
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
                run_id=run_id,
                sources=tuple(sources),
            )
            store.finish_run(run_id, summary.as_json())
    finally:
        shutil.rmtree(spool_root, ignore_errors=True)
    return summary


def _ingest_source(source: str, store: Store, scope: Scope, s3_options: S3Options | None,
                   workers: int | None, run_id: str, tally: _Tally, seen_uris: set[str],
                   spool_root: Path, progress: ProgressCallback | None,
                   on_total: Callable[[int], None] | None, chunk_files: int,
                   commit_events: int) -> None:
    try:
        listing, fetcher_factory = _open_source(source, scope, s3_options)
        to_read = list(_new_objects(listing, store, run_id, tally, seen_uris))
    except SourceError as exc:
        log.error("%s", exc)
        tally.bad.append(PathReason(source, str(exc)))
        store.record_bad([BadFile(source, str(exc))], run_id)
        return
    if on_total:
        on_total(len(to_read))
    spooler = reader.ParallelSpooler(spool_root, workers, fetcher_factory)
    fetch = fetcher_factory() if fetcher_factory else None
    spools = spooler.run(reader.plan_chunks(to_read, chunk_files))
    while True:
        # One transaction holds spools until about commit_events events: all of them, their
        # ledger rows and bad inputs are stored together, or none is.
        exhausted = True
        with store.transaction() as committed:
            for spooled in spools:
                _load(spooled, store, run_id, tally, spool_root, fetch)
                if progress:
                    progress(len(spooled.chunk.objects), spooled.bytes_read)
                if committed.events >= commit_events:
                    exhausted = False
                    break
        tally.new += committed.events_new
        tally.duplicate += committed.events_duplicate
        if exhausted:
            return


def _load(spooled: reader.Spooled, store: Store, run_id: str, tally: _Tally, spool_root: Path,
          fetch: reader.Fetcher | None) -> None:
    """Load one spool into the store's open transaction, and read again carefully the files it
    could not take."""
    refs = [FileRef(i, o.uri, o.fingerprint, o.size) for i, o in enumerate(spooled.chunk.objects)]
    bad = [BadFile(b.uri, b.reason, _fingerprint(spooled.chunk, b.uri)) for b in spooled.bad]
    tally.skipped.extend(PathReason(s.uri, s.reason) for s in spooled.skipped)
    unread = {b.uri for b in spooled.bad} | {s.uri for s in spooled.skipped}
    result = store.load_spool(spooled.spool, [r for r in refs if r.uri not in unread],
                              run_id=run_id, expected=spooled.events, problems=spooled.careful,
                              bad=bad)
    spooled.spool.unlink(missing_ok=True)
    _count(result, tally)
    if result.missing:
        # The store did not read these files' fast-path lines as written: read them again, in
        # Python, salvaging what is readable and naming what is not.
        again = reader.spool_chunk(spooled.chunk, spool_root, fetch, only=result.missing)
        again_bad = [BadFile(b.uri, b.reason, _fingerprint(spooled.chunk, b.uri))
                     for b in again.bad]
        again_unread = {b.uri for b in again.bad}
        result = store.load_spool(
            again.spool, [refs[i] for i in result.missing if refs[i].uri not in again_unread],
            run_id=run_id, expected=again.events, problems=again.careful, bad=again_bad,
            careful_pass=True)
        again.spool.unlink(missing_ok=True)
        _count(result, tally)


def _open_source(source: str, scope: Scope, s3_options: S3Options | None
                 ) -> tuple[Iterable[LogObject | Skipped | BadInput],
                            Callable[[], reader.Fetcher] | None]:
    """The listing of a source and, for remote ones, a picklable factory of its fetcher."""
    if source.startswith("s3://"):
        options = s3_options or S3Options()
        client = s3.make_client(options)  # boto3 is imported only when S3 is used
        return s3.s3_objects(client, source, scope), s3.FetcherFactory(options)
    if "://" in source:
        raise ConfigError(f"{source}: unsupported source (a file, a folder or s3://bucket/prefix)")
    return locate.local_objects(source, scope), None


def _new_objects(listing: Iterable[LogObject | Skipped | BadInput], store: Store, run_id: str,
                 tally: _Tally, seen_uris: set[str]) -> Iterator[LogObject]:
    """The objects of a listing that the ledger does not hold yet; counts the rest."""
    batch: list[LogObject] = []
    for item in listing:
        if isinstance(item, LogObject):
            if item.uri in seen_uris:
                continue
            seen_uris.add(item.uri)
            tally.seen += 1
            batch.append(item)
            if len(batch) >= LEDGER_BATCH:
                yield from _filter_ingested(batch, store, tally)
                batch = []
        elif isinstance(item, Skipped):
            tally.seen += 1
            tally.skipped.append(PathReason(item.uri, item.reason))
        else:
            tally.seen += 1
            tally.bad.append(PathReason(item.uri, item.reason))
            store.record_bad([BadFile(item.uri, item.reason)], run_id)
    yield from _filter_ingested(batch, store, tally)


def _filter_ingested(batch: list[LogObject], store: Store, tally: _Tally) -> Iterator[LogObject]:
    done = store.already_ingested((o.uri, o.fingerprint) for o in batch)
    tally.already += len(done)
    return (o for o in batch if o.uri not in done)


def _count(result: LoadResult, tally: _Tally) -> None:
    tally.ingested += result.files_ingested
    tally.bad.extend(PathReason(b.uri, b.reason) for b in result.bad)


def _fingerprint(chunk: reader.Chunk, uri: str) -> str | None:
    return next((o.fingerprint for o in chunk.objects if o.uri == uri), None)


# -- inventory -----------------------------------------------------------------------------

LIVE = "aws"  # ``--iam aws`` / ``--ecs aws``: read from the account instead of a file


def inventory(iam: str | Path, ecs: str | Path, db: str | Path | None = None, *,
              aws: AwsOptions | None = None, ecs_regions: Sequence[str] = ()) -> Inventory:
    """The roles of the account, which are ECS principals, what they need, and their findings.

    ``iam`` and ``ecs`` are files (or ``"aws"`` to read the account through boto3, with
    ``aws``'s profile, region and endpoint; ``ecs_regions`` lists the regions whose task
    definitions to read, default the client's region). ``db`` is the store whose events say
    which roles ECS was seen assuming; a store that does not exist yet adds no evidence. Inputs
    that could not be read are in ``Inventory.problems``; the rest is still inventoried.
    """
    from rightsizer.analysis.inventory import build_inventory
    from rightsizer.sources import ecs as ecs_source
    from rightsizer.sources import iam as iam_source

    options = aws or AwsOptions()
    if str(iam) == LIVE:
        authorization = iam_source.fetch_authorization_details(options)
    else:
        authorization = iam_source.load_authorization_details(Path(iam))
    if str(ecs) == LIVE:
        regions = list(dict.fromkeys(ecs_regions)) or [options.region]
        fetched = [ecs_source.fetch_task_definitions(replace(options, region=region))
                   for region in regions]
        task_definitions = ecs_source.merge_task_definitions(fetched)
    else:
        task_definitions = ecs_source.load_task_definitions(Path(ecs))
    assumed: tuple[EcsAssumption, ...] = ()
    if db is not None and Path(db).exists():
        with Store(db, read_only=True) as store:
            assumed = store.ecs_assumed_roles()
    elif db is not None:
        log.warning("%s does not exist: no CloudTrail evidence of ECS assuming roles", db)
    return build_inventory(authorization, task_definitions, assumed)
