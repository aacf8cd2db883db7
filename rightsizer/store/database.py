"""The embedded DuckDB store: the only code that imports duckdb.

Versioned schema (``queries/duckdb/schema/NNN_*.sql``), applied in order on open. Every load
of a spool is one transaction that stores its new events, marks its files in the ledger and
records its bad inputs together: a process killed at any moment leaves either all of it or
none of it, and the next run reads the files that are not in the ledger again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType

import duckdb
import orjson

from rightsizer.errors import StoreError
from rightsizer.sqlfiles import schema_migrations, sql, sql_literal
from rightsizer.store.clock import naive_utc as _naive_utc
from rightsizer.store.clock import now as _now
from rightsizer.store.connected import Columns
from rightsizer.store.folders import FolderLedger
from rightsizer.store.history import RunRecords
from rightsizer.store.integrity import IntegrityTables
from rightsizer.store.reading import AnalysisReads

log = logging.getLogger(__name__)


# CloudTrail began recording on 2013-11-13; no event is older.
# https://aws.amazon.com/about-aws/whats-new/2013/11/13/announcing-aws-cloudtrail/
FIRST_EVENT = datetime(2013, 11, 1)


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file of a spool: its index there (``__s``), where it came from, its fingerprint, and
    the times its events can have (naive UTC): an event outside them is a bad record."""

    index: int
    uri: str
    fingerprint: str
    size: int
    earliest: datetime = FIRST_EVENT
    latest: datetime | None = None  # None: a day after now


@dataclass(frozen=True, slots=True)
class BadFile:
    """An input that could not be read whole, and why."""

    uri: str
    reason: str
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one spool load staged. ``events`` can be stored (deduplicated at commit);
    ``missing`` lists the file indexes the store could not read from their spool lines (the
    caller reads them again on the careful path)."""

    files_ingested: int = 0
    records: int = 0
    events: int = 0
    missing: tuple[int, ...] = ()
    bad: tuple[BadFile, ...] = field(default_factory=tuple)


@dataclass
class Committed:
    """Filled when a transaction commits: events staged in it, and the new ones stored."""

    events: int = 0
    events_new: int = 0
    # Events whose eventID the store held, or held first, with other contents: not stored,
    # recorded in event_id_conflicts (counted among the duplicates too).
    events_conflicting: int = 0

    @property
    def events_duplicate(self) -> int:
        return self.events - self.events_new


class Store(IntegrityTables, RunRecords, FolderLedger, AnalysisReads):
    """A DuckDB database file holding events and the ledger of what was read."""

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 memory_limit: str | None = "512MB", threads: int | None = None) -> None:
        self.path = Path(path)
        self._read_only = read_only
        config: dict[str, str | int] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store: {_one_line(exc)}. "
                             f"{damaged_store_hint(self.path)}") from None
        if not read_only:
            _owner_only(self.path)
        self._con.execute("SET TimeZone = 'UTC'")
        # A Jupyter kernel without ipywidgets refuses the setting; the bar is off there anyway.
        with suppress(duckdb.InvalidInputException):
            self._con.execute("SET enable_progress_bar = false")
        # What usage.sql classes calls by, and names a role by.
        self._con.execute(sql("duckdb/analysis/error_class"))
        self._con.execute(sql("duckdb/analysis/role_key"))
        self._committed: Committed | None = None
        self._staged: list[Path] = []  # the typed spools of the open transaction, in order
        if not read_only:
            self._migrate()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self._con.close()  # writes the checkpoint: a full disk shows here too
        except (duckdb.IOException, OSError) as exc:
            raise StoreError(write_fault(self.path, exc)) from None
        if not self._read_only:
            _owner_only(self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _migrate(self) -> None:
        con = self._con
        con.execute("CREATE TABLE IF NOT EXISTS schema_version "
                    "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
        current = (row[0] if row else None) or 0
        migrations = schema_migrations()
        newest = migrations[-1][0] if migrations else 0
        if current > newest:
            raise StoreError(f"{self.path}: schema version {current} is newer than this "
                             f"rightsizer understands ({newest}); upgrade rightsizer")
        for version, text in migrations:
            if version <= current:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(text)
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _now()])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            log.debug("store %s: schema migrated to version %d", self.path, version)

    @property
    def schema_version(self) -> int:
        row = self._con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- the ledger ------------------------------------------------------------------------

    def already_ingested(self, files: Iterable[tuple[str, str]]) -> set[str]:
        """The uris among (uri, fingerprint) pairs that were read before with that fingerprint."""
        pairs = list(files)
        if not pairs:
            return set()
        wanted = {"uri": ("VARCHAR", [u for u, _ in pairs]),
                  "fingerprint": ("VARCHAR", [f for _, f in pairs])}
        rows = self._with_rows("wanted", wanted, "SELECT w.uri FROM wanted AS w "
                               "JOIN ingested_files AS i USING (uri, fingerprint)")
        return {r[0] for r in rows}

    def start_run(self, run_id: str, sources: Sequence[str]) -> None:
        self._con.execute("INSERT INTO ingest_runs (run_id, started_at, sources) VALUES (?, ?, ?)",
                          [run_id, _now(), list(sources)])

    def finish_run(self, run_id: str, summary: dict[str, object]) -> None:
        self._con.execute("UPDATE ingest_runs SET finished_at = ?, summary = ? WHERE run_id = ?",
                          [_now(), orjson.dumps(summary).decode(), run_id])

    def record_bad(self, bad: Iterable[BadFile], run_id: str) -> None:
        """Bad inputs met outside a spool (listing errors, unreadable files)."""
        self._insert_bad(list(bad), run_id)

    def _insert_ledger(self, done: Sequence[tuple[FileRef, int]], run_id: str) -> None:
        if not done:
            return
        rows = {
            "uri": ("VARCHAR", [f.uri for f, _ in done]),
            "fingerprint": ("VARCHAR", [f.fingerprint for f, _ in done]),
            "size": ("BIGINT", [f.size for f, _ in done]),
            "records": ("BIGINT", [n for _, n in done]),
        }
        self._with_rows("done", rows, "INSERT OR IGNORE INTO ingested_files "
                        "SELECT uri, fingerprint, size, records, ?, ? FROM done",
                        [_now(), run_id])

    def _insert_bad(self, bad: Sequence[BadFile], run_id: str) -> None:
        if not bad:
            return
        rows = {
            "uri": ("VARCHAR", [b.uri for b in bad]),
            "fingerprint": ("VARCHAR", [b.fingerprint for b in bad]),
            "reason": ("VARCHAR", [b.reason for b in bad]),
        }
        self._with_rows("bad", rows,
                        "INSERT INTO bad_inputs SELECT uri, fingerprint, reason, ?, ? FROM bad",
                        [_now(), run_id])

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self, run_id: str = "") -> Iterator[Committed]:
        """One ingest transaction: spools loaded in it are deduplicated into ``events`` once,
        when it commits; on any exception nothing of it is stored."""
        if self._committed is not None:
            raise RuntimeError("an ingest transaction is already open")
        con = self._con
        con.execute("BEGIN TRANSACTION")
        committed = self._committed = Committed()
        self._staged = []
        try:
            con.execute(sql("duckdb/ingest/create_pending"))
            yield committed
            may_repeat = con.execute(sql("duckdb/ingest/held_event_ids")).fetchone()
            if may_repeat and may_repeat[0]:
                row = con.execute(sql("duckdb/ingest/record_conflicts"),
                                  {"run_id": run_id, "now": _now()}).fetchone()
                committed.events_conflicting = int(row[0]) if row else 0
            row = con.execute(sql("duckdb/ingest/insert_new_events")).fetchone()
            committed.events_new = int(row[0]) if row else 0
            con.execute("DROP VIEW pending")
            for temporary in ("pending_spools", "pending_files", "pending_dropped", "held",
                              "staged_repeats"):
                con.execute(f"DROP TABLE {temporary}")
        except BaseException as exc:
            self._committed = None
            with suppress(duckdb.Error):  # after an I/O error DuckDB may have rolled back
                con.execute("ROLLBACK")
            self._remove_staged()
            if isinstance(exc, (duckdb.IOException, OSError)):
                raise StoreError(write_fault(self.path, exc)) from None
            raise
        self._committed = None
        try:
            con.execute("COMMIT")
        except (duckdb.IOException, duckdb.TransactionException, OSError) as exc:
            # "Failed to commit: Could not write file ...wal": DuckDB's own write failing.
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise StoreError(write_fault(self.path, exc)) from None
        finally:
            self._remove_staged()
        _owner_only(self.path)  # the write-ahead log, made by the first write

    def _remove_staged(self) -> None:
        """The typed spools of the transaction that ended: read for the last time."""
        for typed in self._staged:
            typed.unlink(missing_ok=True)
        self._staged = []

    # -- loading ---------------------------------------------------------------------------

    def load_spool(self, typed: Path, files: Sequence[FileRef], *, run_id: str,
                   expected: dict[int, int], problems: dict[int, str | None] | None = None,
                   bad: Sequence[BadFile] = (), careful_pass: bool = False) -> LoadResult:
        """Stage the events of a typed spool (``staging.type_spool``) and mark its clean files
        read, in the open ``transaction`` (its events are deduplicated into the store when it
        commits). The store reads ``typed`` until the transaction ends, and then removes it.

        ``expected`` is the number of events the reader wrote per file index. A file of which
        the store read another number is not stored now but returned in ``missing``, for the
        caller to read again carefully; on the careful pass it is stored as far as readable and
        reported. ``problems`` are what the reader already found wrong with a file: it is then
        stored as far as readable but not marked read, so that a later run reads it again and
        says so again.
        """
        if self._committed is None:
            raise RuntimeError("load_spool needs an open transaction")
        problems = dict(problems or {})
        con = self._con
        by_index = {f.index: f for f in files}
        self._staged.append(typed)
        spool_no = len(self._staged)
        con.execute("INSERT INTO pending_spools VALUES (?, ?)", [spool_no, str(typed)])
        tomorrow = _now() + timedelta(days=1)
        chunk_files = {
            "s": ("INTEGER", [f.index for f in files]),
            "uri": ("VARCHAR", [f.uri for f in files]),
            "earliest": ("TIMESTAMP", [f.earliest for f in files]),
            "latest": ("TIMESTAMP", [min(f.latest or tomorrow, tomorrow) for f in files]),
        }
        self._with_rows("chunk_files", chunk_files, "INSERT INTO pending_files "
                        "SELECT ?, s, uri, earliest, latest FROM chunk_files", [spool_no])
        stats = {int(row[0]): row[1:] for row in con.execute(
            sql("duckdb/ingest/file_stats"),
            {"typed": str(typed), "spool_no": spool_no}).fetchall()}
        missing = sorted(s for s in by_index
                         if stats.get(s, (0, 0, 0))[0] != expected.get(s, 0))
        if careful_pass:
            for s in missing:
                read = stats.get(s, (0,))[0]
                problems[s] = f"{expected.get(s, 0) - read} events could not be read"
            missing = []
        elif missing:
            self._with_rows("unread", {"s": ("INTEGER", missing)},
                            "INSERT INTO pending_dropped SELECT ?, s FROM unread", [spool_no])
        typed_files = ", ".join(sql_literal(str(path)) for path in self._staged)
        con.execute(sql("duckdb/ingest/stage_spool").format(typed_files=f"[{typed_files}]"))
        records = valid = 0
        for s, (n_records, not_events, no_time, out_of_range) in stats.items():
            if s not in by_index or s in missing:
                continue
            records += n_records
            valid += n_records - not_events - no_time - out_of_range
            reasons = [problems[s]] if problems.get(s) else []
            if n_records and not_events == n_records:
                reasons = [f"none of {n_records} records is a CloudTrail event"]
            else:
                if not_events:
                    reasons.append(f"{not_events} of {n_records} records are not "
                                   "CloudTrail events")
                if no_time:
                    reasons.append(f"{no_time} of {n_records} records have no readable "
                                   "eventTime")
                if out_of_range:
                    ref = by_index[s]
                    reasons.append(
                        f"{out_of_range} of {n_records} records are dated outside "
                        f"{ref.earliest:%Y-%m-%d %H:%M} to "
                        f"{min(ref.latest or tomorrow, tomorrow):%Y-%m-%d %H:%M} UTC (before "
                        "CloudTrail, in the future, or days from their file's delivery "
                        "date): not stored")
            if reasons:
                problems[s] = "; ".join(reasons)
        bad_files = list(bad)
        for s, reason in sorted(problems.items()):
            if reason and s in by_index:
                ref = by_index[s]
                bad_files.append(BadFile(ref.uri, reason, ref.fingerprint))


        done = [(ref, stats.get(s, (0,))[0]) for s, ref in sorted(by_index.items())
                if not problems.get(s) and s not in missing]
        self._insert_ledger(done, run_id)
        self._insert_bad(bad_files, run_id)
        self._committed.events += valid
        return LoadResult(files_ingested=len(done), records=records, events=valid,
                          missing=tuple(missing), bad=tuple(bad_files))

    # -- aggregates from Athena --------------------------------------------------------------

    def replace_athena_usage(self, source: str, account: str, rows: Columns,
                             query: dict[str, object], run_id: str) -> None:
        """Store one usage query's aggregates in one transaction: the rows of ``source`` and
        ``account`` in the query's window (``query["since"]`` to ``query["until"]``, whole
        days) are replaced, so running a window again never counts twice. ``rows`` has the
        columns of ``athena_usage`` but ``source``, ``query_account`` and ``query_id``."""
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM athena_usage WHERE source = ? AND query_account = ? "
                        "AND day >= CAST(? AS DATE) AND day < CAST(? AS DATE)",
                        [source, account, query["since"], query["until"]])
            self._with_rows("usage", rows, "INSERT INTO athena_usage BY NAME "
                            "SELECT *, ? AS source, ? AS query_account, ? AS query_id FROM usage",
                            [source, account, query["query_id"]])
            con.execute(
                "INSERT INTO athena_queries (query_id, source, account, since, until, "
                "first_partition, last_partition, bytes_scanned, cost_usd, rows, seconds, "
                "ran_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [query["query_id"], source, account, query["since"], query["until"],
                 query["first_partition"], query["last_partition"], query["bytes_scanned"],
                 query["cost_usd"], query["rows"], query["seconds"], _now(), run_id])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def athena_settled_days(self, source: str, account: str) -> set[date]:
        """The days of ``source``'s ``account`` that a stored query covered after they settled:
        it ran two days or more after the day (every delivery of the day was in)."""
        rows = self._con.execute(
            "SELECT DISTINCT CAST(d AS DATE) FROM athena_queries, "
            "range(CAST(since AS DATE), CAST(until AS DATE), INTERVAL 1 DAY) AS t(d) "
            "WHERE source = ? AND account = ? "
            "AND CAST(d AS DATE) <= CAST(ran_at AS DATE) - INTERVAL 2 DAY",
            [source, account]).fetchall()
        return {r[0] for r in rows}

    def local_role_events(self, account: str, since: datetime, until: datetime) -> int:
        """Role calls of ``account`` in ``[since, until)`` that came from files: Athena rows for
        the same account and days would count them twice."""
        row = self._con.execute(
            "SELECT count(*) FROM events WHERE identity_type = 'AssumedRole' AND account = ? "
            "AND event_time >= ? AND event_time < ?",
            [account, _naive_utc(since), _naive_utc(until)]).fetchone()
        return int(row[0]) if row else 0

    def athena_queries(self, run_id: str | None = None) -> list[dict[str, object]]:
        """The usage queries run (of one ingest run, or all), oldest first."""
        cursor = self._con.execute(
            "SELECT * FROM athena_queries WHERE ? IS NULL OR run_id = ? ORDER BY ran_at, account",
            [run_id, run_id])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # -- reading ---------------------------------------------------------------------------

    def count(self, table: str) -> int:
        """Rows in one of the store's tables."""
        query = _COUNTS.get(table)
        if query is None:
            raise ValueError(f"no table {table!r} in the store")
        row = self._con.execute(query).fetchone()
        return int(row[0]) if row else 0


_COUNTS = {name: f"SELECT count(*) FROM {name}"
           for name in ("events", "ingested_files", "bad_inputs", "ingest_runs", "athena_usage",
                        "athena_queries")}


def damaged_store_hint(path: Path) -> str:
    """What to do with a store that cannot be opened (docs/store.md, "The store is damaged")."""
    return (f"If the store is damaged (a truncated copy, a disk that filled while it was "
            f"written), move {path} and {path.name}.wal aside and run again: the store holds "
            "nothing the logs cannot give again, and the next run reads them all (docs/store.md, "
            "'The store is damaged')")


def write_fault(path: Path, exc: BaseException) -> str:
    """A write to the store that failed (a full disk, a read-only folder), and what it means:
    the transaction under way stored nothing, everything committed before it is intact."""
    return (f"{path}: cannot write the store: {_one_line(exc)}. Nothing of the files being "
            "read was stored; what earlier transactions stored is intact, and the next run "
            f"reads the rest. Free space (or make the folder writable) in {path.parent} and "
            "run again")


def _one_line(exc: BaseException) -> str:
    """DuckDB's message without its hints and line breaks."""
    text = " ".join(str(exc).split())
    return text[:500]


def _owner_only(path: Path) -> None:
    """The store holds who called what, from where: readable by its owner only (mode 0600),
    its write-ahead log too. A store someone else owns is left as it is."""
    for file in (path, path.with_name(path.name + ".wal")):
        with suppress(OSError):
            if file.stat().st_uid == os.getuid():
                file.chmod(0o600)
