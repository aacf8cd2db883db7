"""The only composer: sources -> store -> iam / analysis (-> proposal -> report, later).

``ingest`` reads CloudTrail from local paths and S3 into the store, each file at most once,
each event once, and says what it did in an ``IngestSummary``. ``inventory`` reads IAM and ECS
(files or live) and the store's evidence of ECS assuming roles, and classifies the roles.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources import athena, locate, reader, s3
from rightsizer.sources.athena import AthenaOptions
from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.locate import BadInput, LogObject, Scope, Skipped
from rightsizer.sources.s3 import S3Options
from rightsizer.store.database import BadFile, FileRef, LoadResult, Store
from rightsizer.store.lock import store_lock
from rightsizer.store.records import EcsAssumption, UsageRow

if TYPE_CHECKING:
    from rightsizer.analysis.findings import Finding, Severity
    from rightsizer.analysis.inventory import Inventory
    from rightsizer.analysis.verdicts import Verdict
    from rightsizer.iam.observability import Observability, TrailSettings
    from rightsizer.proposal.rightsize import RoleResult, Window
    from rightsizer.settings import Settings

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
    athena_queries: tuple[AthenaQueryReport, ...] = ()

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
    skipped: list[PathReason] = field(default_factory=list)
    bad: list[PathReason] = field(default_factory=list)
    athena: list[AthenaQueryReport] = field(default_factory=list)


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
    started = time.perf_counter()
    scope = scope or Scope()
    run_id = uuid.uuid4().hex
    tally = _Tally()
    seen_uris: set[str] = set()
    spool_root = Path(tempfile.mkdtemp(prefix="rightsizer-spool-"))
    try:
        with store_lock(db), Store(db) as store:
            store.start_run(run_id, sources)
            for source in sources:
                if source.startswith("athena://"):
                    athena_scope = replace(scope, accounts=frozenset(athena_accounts)
                                           or scope.accounts)
                    _ingest_athena(source, store, athena_scope, athena or AthenaOptions(),
                                   principals, today or datetime.now(UTC).date(), run_id, tally)
                    continue
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
                athena_queries=tuple(tally.athena),
            )
            store.finish_run(run_id, summary.as_json())
    finally:
        shutil.rmtree(spool_root, ignore_errors=True)
    return summary


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
        futures = {pool.submit(athena.run_usage_query, connection, table, account, start, end,
                               options, principals): (account, start)
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


def _athena_rows(rows: Sequence[athena.AthenaUsageRow]) -> pa.Table:
    """The rows as the Arrow table ``Store.replace_athena_usage`` takes."""
    columns: dict[str, list[object]] = {name: [] for name in _ATHENA_SCHEMA.names}
    for row in rows:
        for name in _ATHENA_SCHEMA.names:
            columns[name].append(getattr(row, name))
    return pa.table(columns, schema=_ATHENA_SCHEMA)


_ATHENA_SCHEMA = pa.schema([
    ("kind", pa.string()), ("principal", pa.string()), ("event_source", pa.string()),
    ("event_name", pa.string()), ("region", pa.string()), ("account", pa.string()),
    ("request_key", pa.string()), ("resource_arns", pa.list_(pa.string())),
    ("day", pa.date32()), ("error_class", pa.string()), ("invoked_by", pa.string()),
    ("calls", pa.int64()), ("sessions", pa.int64()), ("first_seen", pa.timestamp("us")),
    ("last_seen", pa.timestamp("us")), ("error_code", pa.string()),
])


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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
        raise ConfigError(f"{source}: unsupported source (a file, a folder, s3://bucket/prefix "
                          "or athena://DATABASE.TABLE)")
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

    authorization, task_definitions = _inventory_inputs(iam, ecs, aws, ecs_regions)
    return build_inventory(authorization, task_definitions, _assumed(db))


def _inventory_inputs(iam: str | Path, ecs: str | Path, aws: AwsOptions | None,
                      ecs_regions: Sequence[str] = ()) -> tuple[Any, Any]:
    """IAM's authorization details and the task definitions, from files or live."""
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
    return authorization, task_definitions


def _assumed(db: str | Path | None) -> tuple[EcsAssumption, ...]:
    """The store's evidence of ECS assuming roles; none when there is no store yet."""
    if db is not None and Path(db).exists():
        with Store(db, read_only=True) as store:
            return store.ecs_assumed_roles()
    if db is not None:
        log.warning("%s does not exist: no CloudTrail evidence of ECS assuming roles", db)
    return ()


# -- run: ingest, inventory, analyze, propose, prove, write -----------------------------------

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunResult:
    """What ``run`` did: the ingest, the inventory, and one result per ECS role."""

    out: Path
    window: Window
    ingest: IngestSummary | None
    inventory: Inventory
    roles: tuple[RoleResult, ...]
    settings: Settings
    trails: tuple[TrailSettings, ...]
    trails_assumed: bool
    events_in_window: int
    summary: dict[str, object]
    latest: Path | None = None  # a dated run: the ``latest`` link now pointing at ``out``
    removed: tuple[Path, ...] = ()  # a dated run: old runs removed (output.keep)

    @property
    def problems(self) -> tuple[str, ...]:
        """Inputs that could not be read: each named with its reason (exit 4)."""
        bad = [f"{b.path}: {b.reason}" for b in (self.ingest.bad_inputs if self.ingest else ())]
        bad += [f"{p.what}: {p.reason}" for p in self.inventory.problems]
        return tuple(bad)

    def worst_findings(self, at_least: Severity) -> tuple[tuple[str, Finding], ...]:
        return tuple((r.role.name, f) for r in self.roles for f in r.findings
                     if f.severity.at_least(at_least))


def run(
    *,
    logs: Sequence[str],
    iam: str | Path,
    ecs: str | Path,
    out: str | Path,
    db: str | Path,
    since: datetime | None = None,
    until: datetime | None = None,
    settings: Settings | None = None,
    trail_files: Sequence[str | Path] = (),
    aws: AwsOptions | None = None,
    s3_options: S3Options | None = None,
    athena: AthenaOptions | None = None,
    athena_accounts: Sequence[str] = (),
    principals: Sequence[str] = (),
    today: date | None = None,
    workers: int | None = None,
    pdf: bool = False,
) -> RunResult:
    """Every stage: ingest ``logs`` (none: use the store as it is), inventory IAM and ECS,
    analyze every ECS role over the window in one pass over the store, propose, prove, and
    write the output folder (``summary.json``, ``roles/<RoleName>/...``, ``report.html``,
    ``report.md``, ``findings.csv``, and ``report.pdf`` with ``pdf`` when Chromium is there).

    ``logs`` may name ``athena://DATABASE.TABLE`` sources: their queries read
    ``athena_accounts`` with ``athena``'s options, and bring home the roles ECS was seen
    assuming, the roles IAM and the task definitions say are ECS roles, and ``principals``.
    The store is locked for the whole run (StoreBusy when another run holds it)."""
    with store_lock(db):
        return _run(logs=logs, iam=iam, ecs=ecs, out=Path(out), db=db, since=since,
                    until=until, settings=settings, trail_files=trail_files, aws=aws,
                    s3_options=s3_options, athena=athena, athena_accounts=athena_accounts,
                    principals=principals, today=today, workers=workers, pdf=pdf)


def _run(*, logs: Sequence[str], iam: str | Path, ecs: str | Path, out: Path, db: str | Path,
         since: datetime | None, until: datetime | None, settings: Settings | None,
         trail_files: Sequence[str | Path], aws: AwsOptions | None,
         s3_options: S3Options | None, athena: AthenaOptions | None,
         athena_accounts: Sequence[str], principals: Sequence[str], today: date | None,
         workers: int | None, pdf: bool) -> RunResult:
    from rightsizer.analysis.inventory import build_inventory, role_key
    from rightsizer.iam.observability import DEFAULT_TRAIL
    from rightsizer.proposal.rightsize import Window, rightsize
    from rightsizer.settings import Settings
    from rightsizer.sources.trail import load_trail_settings_file

    settings = settings or Settings()
    today = today or datetime.now(UTC).date()
    authorization, task_definitions = _inventory_inputs(iam, ecs, aws)
    summary_ingest = None
    if logs:
        scope = Scope(since=since.date() if since else None,
                      until=until.date() if until else None)
        wanted = list(principals)
        if any(source.startswith("athena://") for source in logs):
            # Athena brings home only ECS roles: those ECS is seen assuming in the query, and
            # these, which IAM's trust policies and the task definitions name.
            known = build_inventory(authorization, task_definitions, ())
            wanted += [role.arn for role in known.ecs_roles]
        summary_ingest = ingest(logs, db, scope=scope, s3_options=s3_options, athena=athena,
                                athena_accounts=athena_accounts, principals=wanted,
                                today=today, workers=workers)
    result_inventory = build_inventory(authorization, task_definitions, _assumed(db))
    trails = list(settings.trails)
    for path in trail_files:
        trails.extend(load_trail_settings_file(Path(path)))
    trails_assumed = not trails
    if trails_assumed:
        trails = [DEFAULT_TRAIL]

    if not Path(db).exists():
        raise ConfigError(f"{db}: no store: give --logs to ingest CloudTrail first")
    end_exclusive = until + timedelta(days=1) if until else None
    with Store(db, read_only=True) as store:
        span = store.event_span(since, end_exclusive)
        usage = store.usage(since, end_exclusive)
        sessions = store.call_sessions(since, end_exclusive)
    start = since.replace(tzinfo=UTC) if since else span.first_event
    end = end_exclusive.replace(tzinfo=UTC) if end_exclusive else span.last_event
    if start is None or end is None:
        raise ConfigError("the store holds no events in the window: nothing to analyze")
    window = Window(start, end)

    # Grouped once by role (account, name): CloudTrail's sessionIssuer ARN and the IAM data's
    # may differ in path only.
    rows_by_role: dict[tuple[str, str], list[UsageRow]] = {}
    for row in usage:
        rows_by_role.setdefault(role_key(row.principal), []).append(row)
    sessions_by_role: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
    for (principal, source, name), n in sessions.items():
        counts = sessions_by_role.setdefault(role_key(principal), {})
        counts[(source, name)] = max(counts.get((source, name), 0), n)
    cache: dict[str, Observability] = {}
    results = []
    for role in result_inventory.ecs_roles:
        results.append(rightsize(
            role, rows_by_role.get(role_key(role.arn), []),
            sessions=sessions_by_role.get(role_key(role.arn), {}),
            trails=trails, exclusions=settings.exclusions, window=window,
            min_window_days=settings.min_window_days, today=today, observability_cache=cache))
    summary = _summary(window, results, result_inventory, summary_ingest, logs, trails,
                       trails_assumed, span.events, settings, today)
    _write(out, results, summary)
    render_reports(out, pdf=pdf, summary=summary)
    return RunResult(out=out, window=window, ingest=summary_ingest, inventory=result_inventory,
                     roles=tuple(results), settings=settings, trails=tuple(trails),
                     trails_assumed=trails_assumed, events_in_window=span.events,
                     summary=summary)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _verdict_json(verdict: Verdict) -> dict[str, object]:
    entry: dict[str, object] = {"action": verdict.action, "verdict": verdict.verdict,
                                "rule": verdict.rule}
    if verdict.reason:
        entry["reason"] = verdict.reason
    evidence = verdict.evidence
    if evidence is not None:
        resources: dict[str, int] = {}
        for (arn, _region), n in evidence.resources.items():
            resources[arn] = resources.get(arn, 0) + n
        entry.update({
            "calls": evidence.calls,
            "denied_calls": evidence.denied_calls,
            "first_seen": _iso(evidence.first_seen),
            "last_seen": _iso(evidence.last_seen),
            "sessions": evidence.sessions,
            "regions": sorted(evidence.regions),
            "invoked_by": sorted(evidence.invoked_by),
            "resources": [{"arn": a, "calls": n} for a, n in sorted(resources.items())],
            "unknown_resource_calls": evidence.unknown_resource_calls,
            "events": sorted(evidence.event_names),
        })
    return entry


def _role_json(result: RoleResult, policy_path: str | None) -> dict[str, object]:
    role = result.role
    daily: dict[str, int] = {}
    for evidence in result.evidence.actions.values():
        for day, n in evidence.daily.items():
            daily[day.isoformat()] = daily.get(day.isoformat(), 0) + n
    by = {v.action: v for v in result.verdicts}
    return {
        "name": role.name,
        "arn": role.arn,
        "kinds": list(role.kinds),
        "task_definitions": list(role.task_definitions),
        "granted_actions": list(result.granted_actions),
        "used_actions": list(result.actions("used")),
        "unused_actions": list(result.actions("unused")),
        "kept_unobservable": [{"action": a, "reason": by[a].reason}
                              for a in result.actions("not_observable")],
        "kept_required": [{"action": a, "reason": by[a].reason}
                          for a in result.actions("required_by_task_definition")],
        "kept_excluded": [{"action": a, "reason": by[a].reason}
                          for a in result.actions("excluded")],
        "denied_actions": list(result.actions("denied_attempt")),
        "used_not_granted": list(result.actions("used_not_granted")),
        "unmapped_events": list(result.actions("unmapped_event")),
        "proposed_actions": list(result.proposed_actions),
        "policy_path": policy_path,
        "findings": [f.as_json() for f in result.findings],
        "replay": result.replay.as_json() if result.replay else None,
        "notes": list(result.notes),
        "verdicts": [_verdict_json(v) for v in result.verdicts if v.verdict != "unused"],
        "activity": dict(sorted(daily.items())),
        "evidence": list(role.evidence),
        "needs": [{"kind": n.kind, "actions": list(n.actions), "resource": n.resource,
                   "reason": n.reason} for n in role.needs],
    }


def _summary(window: Window, results: Sequence[RoleResult], inv: Inventory,
             ingested: IngestSummary | None, logs: Sequence[str],
             trails: Sequence[TrailSettings], trails_assumed: bool, events: int,
             settings: Settings, today: date) -> dict[str, object]:
    from rightsizer import __version__
    from rightsizer.iam.actions import mapping_tables_version
    from rightsizer.iam.catalog import catalog

    roles = []
    for result in results:
        path = (f"roles/{result.role.name}/policy.json" if result.proposal is not None
                else None)
        roles.append(_role_json(result, path))
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "catalog_version": catalog().version,
        "mapping_version": mapping_tables_version(),
        "as_of": today.isoformat(),
        "window": {"start": _iso(window.start), "end": _iso(window.end),
                   "days": round(window.days, 2),
                   "min_window_days": settings.min_window_days},
        "sources": {
            "logs": list(logs), "iam": inv.sources[0], "ecs": inv.sources[1],
            "trails": [t.source for t in trails], "trails_assumed": trails_assumed,
            "settings": settings.source,
        },
        "ingest": _ingest_json(ingested),
        "events_in_window": events,
        "trails": [{"name": t.name, "management_read": t.management_read,
                    "management_write": t.management_write,
                    "excluded_management_sources": list(t.excluded_management_sources),
                    "data_resource_types": list(t.data_resource_types), "notes": list(t.notes)}
                   for t in trails],
        "roles": roles,
        "problems": [p.as_json() for p in inv.problems],
    }


def render_reports(out: str | Path, *, pdf: bool = False,
                   summary: dict[str, object] | None = None) -> tuple[Path, ...]:
    """Write the reports of an output folder from its ``summary.json`` (the contract they render
    from): ``report.html``, ``report.md``, ``findings.csv``, and with ``pdf`` ``report.pdf``
    printed by headless Chromium (``BrowserMissing``, a ConfigError, says how to get it)."""
    from rightsizer.report.pdf import print_pdf
    from rightsizer.report.render import write_reports

    out = Path(out)
    if summary is None:
        path = out / "summary.json"
        try:
            summary = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no summary.json (run `rightsizer run` first)") from None
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not a summary written by rightsizer: {exc}") from exc
    written = write_reports(out, summary)
    if pdf:
        written = (*written, print_pdf(out / "report.html", out / "report.pdf"))
    return written


def _ingest_json(ingested: IngestSummary | None) -> dict[str, object] | None:
    """What this run read, without what changes from run to run (run id, seconds)."""
    if ingested is None:
        return None
    data = ingested.as_json()
    for volatile in ("run_id", "seconds"):
        data.pop(volatile, None)
    if ingested.athena_queries:  # what Athena scanned and cost, per query
        for query in data["athena_queries"]:  # type: ignore[union-attr]
            query.pop("seconds", None)
    else:
        for key in ("athena_queries", "athena_bytes_scanned", "athena_cost_usd"):
            data.pop(key, None)
    return data


def _write(out: Path, results: Sequence[RoleResult], summary: dict[str, object]) -> None:
    from rightsizer.proposal.render import (
        render_cloudformation,
        render_diff,
        render_policy_json,
        render_terraform,
    )

    out.mkdir(parents=True, exist_ok=True)
    for result in results:
        folder = out / "roles" / result.role.name
        if result.proposal is None:
            if folder.exists():
                shutil.rmtree(folder)  # an earlier run's proposal is no longer recommended
            continue
        folder.mkdir(parents=True, exist_ok=True)
        granted = len(result.grants.actions)
        line = (f"{granted} actions granted, {len(result.proposed_actions)} proposed, "
                f"{len(result.proposal.removed)} removed")
        files = {
            "policy.json": render_policy_json(result.proposal),
            "policy.cfn.yaml": render_cloudformation(result.proposal),
            "policy.tf": render_terraform(result.proposal),
            "diff.md": render_diff(result.proposal, summary_line=line),
        }
        for name, text in files.items():
            _write_text(folder / name, text)
    _write_text(out / "summary.json",
                orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")


def _write_text(path: Path, text: str) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# -- the batch job: settings in, a dated output folder out -------------------------------------

# A dated run folder: FOLDER/2026-11-28T2103Z (UTC), a suffix when two runs share a minute.
_RUN_STAMP = "%Y-%m-%dT%H%MZ"
_RUN_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{4}Z(-\d+)?$")  # see _run_order
LATEST = "latest"


def run_job(settings: Settings, *, now: datetime | None = None) -> RunResult:
    """``rightsizer run`` as a scheduled job: everything from ``settings`` (sources, window,
    store, output, thresholds). With ``output.dated`` the run writes ``FOLDER/<UTC stamp>/``,
    then points ``FOLDER/latest`` at it (only once it is complete) and removes the oldest
    dated runs beyond ``output.keep``. Incremental: the store's ledger skips files already
    read, and Athena re-reads only days that had not settled."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    sources = settings.sources
    for name, value in (("iam", sources.iam), ("ecs", sources.ecs)):
        if not value:
            raise ConfigError(f"sources.{name} is not set: give --{name} FILE|aws, "
                              f"RIGHTSIZER_SOURCES_{name.upper()} or [sources] {name} = ... "
                              "in the configuration file")
    logs = (*sources.logs, *sources.athena)
    since = until = None
    window = settings.window
    explicit = any(settings.origins.get(f"window.{k}", "default") != "default"
                   for k in ("days", "since", "until"))
    if explicit:  # else: the store's first to last event, as an ad hoc run
        first, last = settings.window_bounds(now.date())
        since = datetime(first.year, first.month, first.day)
        until = datetime(last.year, last.month, last.day)
    elif sources.athena:  # Athena needs a window: the default trailing days
        first, last = window.bounds(now.date())
        since = datetime(first.year, first.month, first.day)
    aws = AwsOptions(profile=settings.aws.profile, region=settings.aws.region,
                     endpoint_url=settings.aws.endpoint_url)
    s3_options = S3Options(profile=settings.aws.profile, endpoint_url=settings.aws.endpoint_url)
    athena_options = AthenaOptions(
        workgroup=settings.athena.workgroup, output_location=settings.athena.output_location,
        region=settings.athena_region, profile=settings.aws.profile,
        endpoint_url=settings.aws.endpoint_url, price_per_tb=settings.athena.price_per_tb,
        concurrency=settings.athena.concurrency)
    arguments = {
        "logs": logs, "iam": sources.iam, "ecs": sources.ecs, "db": settings.store.path,
        "since": since, "until": until, "settings": settings, "trail_files": sources.trail,
        "aws": aws, "s3_options": s3_options, "athena": athena_options,
        "athena_accounts": settings.athena.accounts, "principals": settings.athena.principals,
        "today": now.date(), "workers": settings.run.workers, "pdf": settings.run.pdf,
    }
    folder = Path(settings.output.folder)
    if not settings.output.dated:
        return run(out=folder, **arguments)
    # A dated run is written to a hidden staging folder and gets its name only once complete:
    # a run that fails half-way never shows as a run, never counts towards `keep`.
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{now.strftime(_RUN_STAMP)}.{os.getpid()}.partial"
    try:
        result = run(out=staging, **arguments)
        out = _name_run_folder(folder, staging, now)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    latest = _publish_latest(folder, out)
    removed = _prune_runs(folder, keep=settings.output.keep, current=out)
    return replace(result, out=out, latest=latest, removed=removed)


def _name_run_folder(folder: Path, staging: Path, now: datetime) -> Path:
    """Rename the staging folder to the run's stamp (a suffix when the minute is taken).
    ``mkdir`` reserves the name atomically; the rename then replaces that empty folder."""
    stamp = now.strftime(_RUN_STAMP)
    candidate, n = folder / stamp, 1
    while True:
        try:
            candidate.mkdir()
            break
        except FileExistsError:
            candidate, n = folder / f"{stamp}-{n}", n + 1
    staging.rename(candidate)
    return candidate


def _publish_latest(folder: Path, run_folder: Path) -> Path:
    """Point ``folder/latest`` at ``run_folder`` atomically: a reader sees the old run or the
    new one, never neither (a relative link, so the folder can be moved or mounted)."""
    latest = folder / LATEST
    if latest.exists() and not latest.is_symlink():
        raise ConfigError(f"{latest} exists and is not a link: move it away; rightsizer points "
                          "it at the newest run")
    staging = folder / f".{LATEST}.{os.getpid()}"
    staging.unlink(missing_ok=True)
    os.symlink(run_folder.name, staging)
    os.replace(staging, latest)
    return latest


def _prune_runs(folder: Path, *, keep: int, current: Path) -> tuple[Path, ...]:
    """Remove the oldest dated runs beyond ``keep`` (0 keeps all); never the current one."""
    if keep <= 0:
        return ()
    runs = sorted((p for p in folder.iterdir()
                   if p.is_dir() and not p.is_symlink() and _RUN_FOLDER.match(p.name)),
                  key=_run_order)
    removed = tuple(p for p in runs[:-keep] if p != current)
    for path in removed:
        shutil.rmtree(path)
        log.info("removed the old run %s (output.keep = %d)", path, keep)
    return removed


def _run_order(path: Path) -> tuple[str, int]:
    """Runs in the order they were made: by stamp, then by the suffix of a shared minute
    (``-10`` after ``-9``)."""
    stamp, _, number = path.name.partition("Z")
    return stamp, int(number[1:]) if number else 0


# -- athena setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AthenaSetup:
    """The statements ``rightsizer athena setup`` prints, and the queries that ran them."""

    table: str
    statements: tuple[str, ...]
    applied: tuple[str, ...] = ()  # query ids, with apply


def athena_setup(settings: Settings, *, apply: bool = False) -> AthenaSetup:
    """The database and table DDL for ``sources.athena`` (the first one) from the ``athena``
    settings; with ``apply`` it runs them in the workgroup."""
    if not settings.sources.athena:
        raise ConfigError("athena setup: name the table (--table athena://DATABASE.TABLE, "
                          "RIGHTSIZER_SOURCES_ATHENA or [sources] athena)")
    table = athena.parse_athena_uri(settings.sources.athena[0])
    conf = settings.athena
    organization = conf.layout == "organization"
    if organization and not conf.organization_id:
        raise ConfigError("athena setup: an organization trail needs athena.organization_id "
                          "(--organization-id o-...)")
    if not conf.bucket:
        raise ConfigError("athena setup: give the trail's bucket (athena.bucket, --bucket)")
    layout = athena.TableLayout(
        database=table.database, table=table.table, bucket=conf.bucket, prefix=conf.prefix,
        regions=conf.regions, accounts=conf.accounts,
        organization_id=conf.organization_id if organization else None,
        projection_start=conf.projection_start or date(2020, 1, 1))
    statements = (f"CREATE DATABASE IF NOT EXISTS `{table.database}`", athena.table_ddl(layout))
    if not apply:
        return AthenaSetup(table.uri, statements)
    options = AthenaOptions(workgroup=conf.workgroup, output_location=conf.output_location,
                            region=settings.athena_region, profile=settings.aws.profile,
                            endpoint_url=settings.aws.endpoint_url)
    stats = athena.run_ddl(statements, options, f"athena setup {table.uri}")
    return AthenaSetup(table.uri, statements, tuple(s.query_id for s in stats))
