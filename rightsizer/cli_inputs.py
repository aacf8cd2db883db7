"""``rightsizer ingest`` and ``rightsizer inventory``: the commands that read the inputs (the
logs into the store, the roles and task definitions into a list), argument handling and
printing only (cli.py registers them)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

import rightsizer
from rightsizer.cli_options import (
    REGION_CHANGED_IN,
    athena_options,
    athena_query_options,
    aws_options,
    deprecated_option,
    load_cli_settings,
    member_options,
    output_options,
)
from rightsizer.cli_output import (
    EXIT_DATA,
    EXIT_OK,
    _echo,
    _one,
    _print,
    _run,
    _say_error,
    _say_warning,
    _size,
)
from rightsizer.errors import ConfigError

__all__ = ["DEFAULT_DB", "ingest", "inventory"]

DEFAULT_DB = "rightsizer.duckdb"

# `ingest` flags and the settings they set, for --config and RIGHTSIZER_* (see cli._RUN_FLAGS).
_INGEST_FLAGS = {
    "db": "store.path", "since": "window.since", "until": "window.until",
    "profile": "aws.profile", "region": "aws.region", "endpoint_url": "aws.endpoint_url",
    "workers": "run.workers", "workgroup": "athena.workgroup",
    "output_location": "athena.output_location", "athena_region": "athena.region",
    "principals": "athena.principals", "athena_concurrency": "athena.concurrency",
}


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings (default: $RIGHTSIZER_CONFIG): its [sources] logs and athena "
                   "when no SOURCE is given, [store], [athena], [aws]; flags override it.")
@click.option("--db", type=click.Path(dir_okay=False),
              help=f"The DuckDB store (default {DEFAULT_DB}).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day of the window (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of the window (UTC).")
@click.option("--account", "accounts", multiple=True,
              help="Only this account's logs (repeatable); for Athena, the accounts to query.")
@click.option("--log-region", "log_regions", multiple=True, metavar="REGION",
              help="Only the logs of this region (repeatable; default: every region's). The "
                   "other regions' evidence is then missing, and the analysis says so.")
@aws_options("s3:// and athena:// sources")
@deprecated_option("--s3-region", "--region")
@click.option("--workers", type=click.IntRange(1, 64), help="Reader processes (default: cores).")
@athena_options
@athena_query_options
@output_options
def ingest(sources: tuple[str, ...], config: Path | None, accounts: tuple[str, ...],
           log_regions: tuple[str, ...], s3_region: str | None, output: str,
           **flags: Any) -> None:
    """Read CloudTrail from SOURCE... (files, folders, s3://bucket/prefix) into the store, or
    aggregate it in Athena (athena://DATABASE.TABLE, one query per --account) and store the
    aggregates. Without SOURCE, the configuration's [sources] logs and athena.

    Files already read (same path and size/mtime, or same S3 ETag) are not read again; every
    event is stored once. Athena days already read after they settled are not asked again;
    the bytes each query scanned and their cost are printed and kept in the store. Exit 4 when
    some input could not be read (the rest is stored)."""

    def action() -> int:
        given: dict[str, object] = {_INGEST_FLAGS[k]: v for k, v in flags.items()}
        given["athena.accounts"] = accounts
        settings = load_cli_settings(config, given)
        chosen = sources or (*settings.sources.logs, *settings.sources.athena)
        if not chosen:
            raise ConfigError("nothing to ingest: give a SOURCE, or [sources] logs / athena "
                              "in the configuration")
        calls_aws = any(s.startswith(("s3://", "athena://")) for s in chosen)
        if flags["region"] and not calls_aws:
            # Before 0.2.0 `ingest --region` chose the logs' regions.
            _say_warning(f"--region {flags['region']} sets the region of AWS API calls, and no "
                         "source here calls AWS: every region's logs are read. To read only "
                         f"{flags['region']}'s logs, give --log-region {flags['region']} "
                         f"(ingest --region meant that before {REGION_CHANGED_IN})")
        db = settings.store.path
        scope = rightsizer.Scope(
            since=settings.window.since, until=settings.window.until,
            accounts=frozenset(accounts), regions=frozenset(log_regions))
        if scope.since and scope.until and scope.since > scope.until:
            raise ConfigError(f"--since {scope.since} is after --until {scope.until}")
        s3_options = None
        if any(s.startswith("s3://") for s in chosen):
            from rightsizer.sources.s3 import S3Options

            s3_options = S3Options(profile=settings.aws.profile,
                                   region=s3_region or settings.aws.region,
                                   endpoint_url=settings.aws.endpoint_url)
        athena = None
        if any(s.startswith("athena://") for s in chosen):
            from rightsizer.sources.athena import AthenaOptions

            athena = AthenaOptions(
                workgroup=settings.athena.workgroup,
                output_location=settings.athena.output_location,
                region=settings.athena_region, profile=settings.aws.profile,
                endpoint_url=settings.aws.endpoint_url, price_per_tb=settings.athena.price_per_tb,
                concurrency=settings.athena.concurrency)
        with _Progress(enabled=output == "table" and sys.stdout.isatty()) as bar:
            summary = rightsizer.ingest(chosen, db, scope=scope, s3_options=s3_options,
                                        athena=athena, athena_accounts=settings.athena.accounts,
                                        principals=settings.athena.principals,
                                        workers=settings.run.workers,
                                        progress=bar.advance, on_total=bar.add_total)
        _print(output, summary.as_json, lambda: _print_ingest(summary, db))
        for bad in summary.bad_inputs:
            _say_error(f"bad input: {bad.path}: {bad.reason}")
        return EXIT_OK if summary.ok else EXIT_DATA

    _run(action)


@click.command()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings, as for run ([sources] iam, ecs; [store] path; [aws]); "
                   "default $RIGHTSIZER_CONFIG. Flags override it.")
@click.option("--iam", "iam_source", metavar="FILE|FOLDER|aws",
              help="`aws iam get-account-authorization-details` output, a folder of them (one "
                   "per account), or `aws` to read the account live (every --account with "
                   "--assume-role).")
@click.option("--ecs", "ecs_source", metavar="FILE|FOLDER|aws",
              help="Task definitions (describe-task-definition output, a list, "
                   "{\"taskDefinitions\": [...]}, or a folder of them), or `aws` to read "
                   "them live.")
@click.option("--db", type=click.Path(dir_okay=False),
              help=f"The store: its events show which roles ECS assumed (default {DEFAULT_DB}).")
@aws_options("live reads")
@click.option("--ecs-region", "ecs_regions", multiple=True, metavar="REGION",
              help="With --ecs aws: a region whose task definitions to read (repeatable; "
                   "default: --region).")
@deprecated_option("--aws-region", "--region, and --ecs-region for each region whose task "
                                   "definitions to read", "aws_regions", multiple=True)
@member_options
@output_options
def inventory(config: Path | None, iam_source: str | None, ecs_source: str | None,
              db: str | None, profile: str | None, region: str | None,
              endpoint_url: str | None, ecs_regions: tuple[str, ...],
              aws_regions: tuple[str, ...], accounts: tuple[str, ...],
              organization: bool | None, assume_role: str | None, output: str) -> None:
    """List the account's roles: which are ECS task principals, their kinds, the task
    definitions that use them, what those declare they need, and findings.

    Exit 4 when some input (a policy, a role entry, a task definition) could not be read; the
    rest is still listed."""

    def action() -> int:
        from rightsizer.sources.aws import AwsOptions

        given: dict[str, object] = {
            "sources.iam": iam_source, "sources.ecs": ecs_source, "store.path": db,
            "aws.profile": profile, "aws.endpoint_url": endpoint_url,
            # 0.1's repeated --aws-region: the first was the API region, each an ECS region.
            "aws.region": region or (aws_regions[0] if aws_regions else None),
            "aws.ecs_regions": ecs_regions or aws_regions or None,
            "aws.accounts": accounts or None, "aws.organization": organization,
            "aws.assume_role": assume_role}
        settings = load_cli_settings(config, {k: v for k, v in given.items() if v is not None})
        for name in ("iam", "ecs"):
            if not getattr(settings.sources, name):
                raise ConfigError(f"sources.{name} is not set: give --{name} FILE|aws, or "
                                  f"[sources] {name} = ... in --config")
        options = AwsOptions(profile=settings.aws.profile, region=settings.aws.region,
                             endpoint_url=settings.aws.endpoint_url)
        result = rightsizer.inventory(settings.sources.iam, settings.sources.ecs,
                                      settings.store.path, aws=options,
                                      ecs_regions=settings.aws.ecs_regions,
                                      members=settings.aws.members())
        _print(output, result.as_json, lambda: _print_inventory(result))
        for problem in result.problems:
            _say_error(f"bad input: {problem.what}: {problem.reason}")
        return EXIT_DATA if result.problems else EXIT_OK

    _run(action)


def _print_ingest(summary: rightsizer.IngestSummary, db: str) -> None:
    _echo(f"Read {summary.files_ingested:,} new files of {summary.files_seen:,} seen "
          f"({summary.files_already_ingested:,} already ingested) in "
          f"{summary.seconds:.1f} s into {db}")
    _echo(f"  {summary.events_ingested:,} new events, "
          f"{summary.events_duplicate:,} duplicates not stored")
    if summary.events_conflicting:
        _echo(f"  {summary.events_conflicting:,} of them repeat an eventID with other contents: "
              "the first read is kept, the others are in the store's event_id_conflicts")
    reasons = Counter(s.reason for s in summary.files_skipped)
    for reason, n in reasons.most_common():
        _echo(f"  skipped {n:,}: {_one(reason)}")
    for query in summary.athena_queries:
        _echo(f"  {query.source} account {query.account} {query.since}..{query.until}: "
              f"{query.rows:,} rows, {_size(query.bytes_scanned)} scanned, "
              f"{query.cost_usd:.4f} USD (query {query.query_id})")
    if summary.athena_queries:
        _echo(f"  Athena: {_size(summary.athena_bytes_scanned)} scanned in "
              f"{len(summary.athena_queries)} queries, {summary.athena_cost_usd:.4f} USD")
    if summary.bad_inputs:
        _echo(f"  {len(summary.bad_inputs):,} bad inputs (listed on stderr)")


def _print_inventory(result: Any) -> None:
    ecs_roles = result.ecs_roles
    _echo(f"{len(result.roles)} roles, {len(ecs_roles)} ECS principals, "
          f"{len(result.task_definitions)} task definitions "
          f"(IAM catalog {result.catalog_version})")
    for role in ecs_roles:
        kinds = "+".join(role.kinds) or "kind unknown"
        _echo(f"  {_one(role.name)}  [{kinds}]  {len(role.families)} families, "
              f"{len(role.needs)} declared needs, {len(role.findings)} findings")
        for finding in role.findings:
            _echo(f"    {finding.severity.value.upper():8} {finding.code}: "
                  f"{_one(finding.message)}")


class _Progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(),
                                      transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task("reading files", total=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def add_total(self, n: int) -> None:
        if self._progress is not None:
            total = self._progress.tasks[0].total or 0
            self._progress.update(self._task, total=total + n)

    def advance(self, files: int, _bytes: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, files)
