"""``run``: ingest, inventory, analyze every ECS role in one pass over the store, propose,
prove, and write the output folder."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rightsizer.errors import ConfigError, SourceError
from rightsizer.pipeline.ingest import IngestSummary, ingest
from rightsizer.pipeline.inputs import require_inputs
from rightsizer.pipeline.inventory import assumed_roles, inventory_inputs, member_access
from rightsizer.pipeline.stages import Progress, stage
from rightsizer.pipeline.trails import trail_evidence
from rightsizer.pipeline.write import render_reports, summarize, write_output
from rightsizer.sources.athena import AthenaOptions
from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.locate import Scope
from rightsizer.sources.s3 import S3Options
from rightsizer.store.database import Store
from rightsizer.store.lock import store_lock
from rightsizer.store.records import UsageRow
from rightsizer.text import plural

if TYPE_CHECKING:
    from rightsizer.analysis.explain import Failure
    from rightsizer.analysis.findings import Finding, Severity
    from rightsizer.analysis.integrity import IntegrityReport
    from rightsizer.analysis.inventory import Inventory, InventoryRole
    from rightsizer.analysis.role_changes import RoleChange
    from rightsizer.iam.observability import Observability, TrailSettings
    from rightsizer.pipeline.history import RunHistory
    from rightsizer.proposal.rightsize import RoleResult, Window
    from rightsizer.settings import Settings
    from rightsizer.sources.accounts import MemberAccess, Members
    from rightsizer.sources.last_accessed import RoleAccess

# DuckDB's memory for the usage query, whose rows are streamed while the roles are analyzed:
# it aggregates every call of the window, and sorts the rows by role. DuckDB spills what does
# not fit to a temporary folder beside the store. On 10M simulated events (2.3M rows, the query
# and its fetch alone, scratch timer): 256 MB took 50-51 s at a peak RSS of 377 MiB, 320 MB
# 31 s at 438, 384 MB 36 s at 504, 512 MB 36 s at 624 (the sort spills far less above 256).
# 384 MB keeps a margin above that knee; the whole 10M analysis peaked at 713 MiB with it.
USAGE_QUERY_MEMORY = "384MB"


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
    failures: tuple[Failure, ...] = ()  # why calls were refused, and the fixes (explain)
    changes: Mapping[str, tuple[RoleChange, ...]] = field(default_factory=dict)  # by role ARN
    latest: Path | None = None  # a dated run: the ``latest`` link now pointing at ``out``
    removed: tuple[Path, ...] = ()  # a dated run: old runs removed (output.keep)
    # CloudTrail log file integrity validation of the files used; None when no file was
    # (Athena read them).
    integrity: IntegrityReport | None = None
    history: RunHistory | None = None  # this run against the ones before it
    extra_problems: tuple[str, ...] = ()  # inputs read during the analysis that failed

    @property
    def judged(self) -> tuple[RoleResult, ...]:
        """The roles whose evidence sufficed to judge them (the others have no proposal)."""
        return tuple(r for r in self.roles if r.sufficiency.sufficient)

    @property
    def problems(self) -> tuple[str, ...]:
        """Inputs that could not be read: each named with its reason (exit 4)."""
        bad = [f"{b.path}: {b.reason}" for b in (self.ingest.bad_inputs if self.ingest else ())]
        bad += [f"{p.what}: {p.reason}" for p in self.inventory.problems]
        return (*bad, *self.extra_problems)

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
    progress: Progress | None = None,
) -> RunResult:
    """Every stage: ingest ``logs`` (none: use the store as it is), inventory IAM and ECS,
    analyze every ECS role over the window in one pass over the store, propose, prove, and
    write the output folder (``summary.json``, ``roles/<RoleName>/...``, ``report.html``,
    ``report.md``, ``findings.csv``, and ``report.pdf`` with ``pdf`` when Chromium is there).
    ``progress`` hears each stage as it goes (``pipeline.stages``): ingest, inventory, usage
    query, roles analyzed, reports.

    ``logs`` may name ``athena://DATABASE.TABLE`` sources: their queries read
    ``athena_accounts`` with ``athena``'s options, and bring home the roles ECS was seen
    assuming, the roles IAM and the task definitions say are ECS roles, and ``principals``.
    The store is locked for the whole run (StoreBusy when another run holds it). A local input
    that does not exist is a ConfigError before anything is created."""
    given = settings.sources if settings is not None else None
    require_inputs([*(("--logs", source) for source in logs), ("--iam", iam), ("--ecs", ecs),
                    *(("--trail", path) for path in trail_files),
                    *((flag, path) for flag, path in (
                        ("--public-keys", given.public_keys if given else None),
                        ("--last-accessed", given.last_accessed if given else None)) if path)])
    with store_lock(db):
        return _run(logs=logs, iam=iam, ecs=ecs, out=Path(out), db=db, since=since,
                    until=until, settings=settings, trail_files=trail_files, aws=aws,
                    s3_options=s3_options, athena=athena, athena_accounts=athena_accounts,
                    principals=principals, today=today, workers=workers, pdf=pdf,
                    progress=progress)


def _run(*, logs: Sequence[str], iam: str | Path, ecs: str | Path, out: Path, db: str | Path,
         since: datetime | None, until: datetime | None, settings: Settings | None,
         trail_files: Sequence[str | Path], aws: AwsOptions | None,
         s3_options: S3Options | None, athena: AthenaOptions | None,
         athena_accounts: Sequence[str], principals: Sequence[str], today: date | None,
         workers: int | None, pdf: bool, progress: Progress | None = None) -> RunResult:
    from rightsizer.analysis.evidence import Coverage, judge_evidence, role_footprint, withhold
    from rightsizer.analysis.explain import (
        attempts_from_assume_failures,
        attempts_from_usage,
        authorized_actions,
        explain,
    )
    from rightsizer.analysis.integrity import limit_sufficiency
    from rightsizer.analysis.inventory import build_inventory, role_key
    from rightsizer.analysis.role_changes import role_changes
    from rightsizer.pipeline.history import compare_runs, record_run
    from rightsizer.pipeline.inputs import LIVE
    from rightsizer.pipeline.integrity import log_integrity
    from rightsizer.proposal.rightsize import Window, rightsize
    from rightsizer.settings import Settings
    from rightsizer.sources.accounts import failed_account
    from rightsizer.sources.last_accessed import load_last_accessed

    settings = settings or Settings()
    today = today or datetime.now(UTC).date()
    members = settings.aws.members()
    access = member_access(iam, ecs, aws, members)
    authorization, task_definitions = inventory_inputs(iam, ecs, aws, settings.aws.ecs_regions,
                                                       access)
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
        if not athena_accounts and any(s.startswith("athena://") for s in logs):
            # Every account in the run: those whose IAM data is read.
            from rightsizer.sources.accounts import accounts_of

            athena_accounts = accounts_of(authorization)
        with stage("ingest", progress, total=0) as reading:
            summary_ingest = ingest(logs, db, scope=scope, s3_options=s3_options,
                                    athena=athena, athena_accounts=athena_accounts,
                                    principals=wanted, today=today, workers=workers,
                                    progress=lambda files, _bytes: reading.advance(files),
                                    on_total=reading.add_total)
    with stage("inventory", progress):
        result_inventory = build_inventory(authorization, task_definitions, assumed_roles(db))
    if not Path(db).exists():
        raise ConfigError(f"{db}: no store: give --logs to ingest CloudTrail first")
    end_exclusive = until + timedelta(days=1) if until else None
    querying = stage("usage query", progress)
    with Store(db, read_only=True) as store:
        seen_data = store.data_events(since, end_exclusive)
        trail_events = store.trail_events(None, end_exclusive)
    evidence = trail_evidence(settings, trail_files, iam, aws, seen_data, trail_events, since)
    trails = list(evidence.trails)
    with Store(db, read_only=True) as store:
        span = store.event_span(since, end_exclusive)
        sessions = store.call_sessions(since, end_exclusive)
        covered = store.coverage(since, end_exclusive)
        assumed_in_window = store.ecs_assumed_roles(since, end_exclusive)
        assume_failures = store.assume_role_failures(since, end_exclusive)
        iam_changes = store.iam_changes(since, end_exclusive)
        files_used, runs_used = store.window_inputs(since, end_exclusive)
    querying.finish()
    start = since.replace(tzinfo=UTC) if since else span.first_event
    end = end_exclusive.replace(tzinfo=UTC) if end_exclusive else span.last_event
    if start is None or end is None:
        bad = summary_ingest.bad_inputs if summary_ingest else ()
        if bad:  # name what could not be read, as ingest does: that is why nothing is there
            raise SourceError(
                f"the store holds no events in the window: nothing to analyze; "
                f"{plural(len(bad), 'input')} could not be read: "
                + "; ".join(f"{b.path}: {b.reason}" for b in bad))
        raise ConfigError("the store holds no events in the window: nothing to analyze")
    window = Window(start, end)
    coverage = Coverage(covered, start, end)
    with stage("log integrity", progress):
        integrity = log_integrity(db, logs, settings.sources.public_keys, aws, start, end)
    tampered = integrity.tampered_places() if integrity else {}
    assumptions = {role_key(a.role_arn): a for a in assumed_in_window}

    sessions_by_role: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
    for (principal, source, name), n in sessions.items():
        counts = sessions_by_role.setdefault(role_key(principal), {})
        counts[(source, name)] = max(counts.get((source, name), 0), n)
    cache: dict[str, Observability] = {}
    # IAM's last-accessed data, the second witness (only to keep), by role: a file, or live.
    witness_problems: list[str] = []
    if settings.sources.last_accessed == LIVE:
        found, failed = _last_accessed_live(
            aws or AwsOptions(), members, access,
            [r.arn for r in result_inventory.ecs_roles if r.in_iam_data])
        witness_problems = [f"IAM last-accessed data of {arn}: {reason}"
                            for arn, reason in failed]
    elif settings.sources.last_accessed:
        found = load_last_accessed(settings.sources.last_accessed)
    else:
        found = {}
    access = {role_key(arn): role_access for arn, role_access in found.items()}
    # Member accounts whose task definitions could not be read (sources.accounts names them
    # "account ID"): their roles' declared needs are unknown.
    unread_task_definitions = {failed_account(p.uri) for p in task_definitions.problems} - {None}
    # By role (account, name): CloudTrail's sessionIssuer ARN and the IAM data's may differ in
    # path only.
    ecs_roles: dict[tuple[str, str], list[InventoryRole]] = {}
    for role in result_inventory.ecs_roles:
        ecs_roles.setdefault(role_key(role.arn), []).append(role)

    def analyze(role: InventoryRole, rows: Sequence[UsageRow]) -> RoleResult:
        key = role_key(role.arn)
        role_sessions = sessions_by_role.get(key, {})
        assumption = assumptions.get(key)
        sufficiency = judge_evidence(
            account=key[0], footprint=role_footprint(role, rows, assumption),
            coverage=coverage,
            active_days={r.day for r in rows} | set(assumption.days if assumption else ()),
            sessions=max([assumption.sessions if assumption else 0,
                          *role_sessions.values()]),
            seen=bool(rows) or assumption is not None)
        sufficiency = limit_sufficiency(sufficiency, tampered)
        if key[0] in unread_task_definitions:
            sufficiency = withhold(sufficiency, (
                f"the task definitions of account {key[0]} could not be read: what its tasks "
                "declare they need (secrets, images, logs read at start) is not known"))
        return rightsize(
            role, rows, sessions=role_sessions, trails=trails,
            exclusions=settings.exclusions, window=window,
            min_window_days=settings.min_window_days, today=today, sufficiency=sufficiency,
            observability_cache=cache, last_accessed=access.get(key))

    analyzing = stage("roles analyzed", progress, total=len(result_inventory.ecs_roles))
    # The usage rows come one ECS role at a time and are let go once it is analyzed: memory
    # holds one ECS role's calls, whatever the size of the logs. What the report needs of every
    # role is the calls IAM authorized (the keys of call_sessions) and the refused ones: other
    # roles' rows come only for those (a Lambda role's row per S3 object is not fetched).
    by_role: dict[str, RoleResult] = {}
    succeeded = authorized_actions(sessions)
    refused: dict[tuple[str, str], list[UsageRow]] = {}
    with collector_paused(), Store(db, read_only=True, memory_limit=USAGE_QUERY_MEMORY) as store:
        for key, rows in store.usage_by_role(since, end_exclusive, keep=ecs_roles,
                                             others="refused"):
            if denied := [r for r in rows if r.error_class == "denied"]:
                refused.setdefault(key, []).extend(denied)
            for role in ecs_roles.get(key, ()):
                by_role[role.arn] = analyze(role, rows)
                analyzing.advance()
    for role in result_inventory.ecs_roles:
        if role.arn not in by_role:  # no call in the window
            by_role[role.arn] = analyze(role, ())
            analyzing.advance()
    results = [by_role[role.arn] for role in result_inventory.ecs_roles]
    analyzing.finish()
    reporting = stage("reports", progress)
    # Why calls failed and who changed the roles: from the same rows, for the report.
    succeeded |= {(a.role_arn, "sts:AssumeRole") for a in assumed_in_window}
    failures = explain(attempts_from_usage(row for rows in refused.values() for row in rows)
                       + attempts_from_assume_failures(assume_failures),
                       result_inventory, succeeded)
    changes = role_changes(iam_changes, result_inventory)
    history, results = compare_runs(db, results, refused, today)
    summary = summarize(window, results, result_inventory, summary_ingest, logs, evidence,
                        span.events, settings, today, coverage, failures=failures,
                        changes=changes, analysis_input={"events": span.events,
                                                         "files": files_used,
                                                         "ingest_runs": runs_used},
                        integrity=integrity, history=history)
    write_output(out, results, summary)
    render_reports(out, pdf=pdf, summary=summary)
    record_run(db, history, integrity.record_json() if integrity else None)
    reporting.finish()
    return RunResult(out=out, window=window, ingest=summary_ingest, inventory=result_inventory,
                     roles=tuple(results), settings=settings, trails=tuple(trails),
                     trails_assumed=evidence.origin == "inferred",
                     events_in_window=span.events,
                     summary=summary, failures=failures, changes=changes,
                     integrity=integrity, history=history,
                     extra_problems=tuple(witness_problems))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while the roles are analyzed. Why: the usage rows and the
    evidence are hundreds of thousands of small objects, and each full collection walks every
    one of them (on the stored 1M-event account, the analysis took 25.5 / 27.2 s with the
    collector, 23.4 / 24.6 s with it off for the whole run). They hold no cycles, so
    reference counting frees them as each role is done; any cycle made meanwhile is collected
    once the collector is back."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _last_accessed_live(aws: AwsOptions, members: Members, access: MemberAccess | None,
                        role_arns: Sequence[str]
                        ) -> tuple[dict[str, RoleAccess], list[tuple[str, str]]]:
    """IAM's last-accessed data of the roles, live: with the credentials' account, or in each
    member account through the role assumed there (once a run: ``access`` holds the accounts
    already assumed for IAM and ECS)."""
    from rightsizer.analysis.inventory import role_key
    from rightsizer.sources.accounts import MemberAccess, failed_account, for_each_account
    from rightsizer.sources.last_accessed import fetch_last_accessed

    if not members.read_live:
        return fetch_last_accessed(aws, role_arns)
    by_account: dict[str, list[str]] = {}
    for arn in role_arns:
        by_account.setdefault(role_key(arn)[0], []).append(arn)
    access = (access or MemberAccess({}, {})).with_accounts(aws, members, by_account)
    read, failed_accounts = for_each_account(
        access, lambda account, options: fetch_last_accessed(
            options, by_account.get(account, [])),
        missing="no second witness for its roles", accounts=by_account)
    found: dict[str, RoleAccess] = {}
    failed: list[tuple[str, str]] = []
    for account_found, account_failed in read.values():
        found.update(account_found)
        failed.extend(account_failed)
    for problem in failed_accounts:
        account = failed_account(problem.uri) or ""
        failed.extend((arn, problem.reason) for arn in by_account.get(account, []))
    return found, failed
