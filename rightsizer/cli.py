"""The ``rightsizer`` command: argument handling, printing and exit codes, nothing more.

Exit codes (DESIGN.md): 0 done; 1 bug; 2 usage or configuration error; 3 findings (with
``--fail-on-findings``); 4 data error (some input unreadable, everything readable processed).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

import rightsizer
from rightsizer.cli_output import (
    EXIT_DATA,
    EXIT_FINDINGS,
    EXIT_OK,
    _echo,
    _one,
    _print_json,
    _run,
    _say_error,
    _setup_logging,
    _StageProgress,
    _state,
)
from rightsizer.cli_roles import explain, new_role
from rightsizer.errors import ConfigError
from rightsizer.text import plural

DEFAULT_DB = "rightsizer.duckdb"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rightsizer.__version__, prog_name="rightsizer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Least-privilege IAM for ECS task and execution roles, from what CloudTrail shows."""
    _state["verbose"] = verbose
    _state["json_logs"] = False
    _setup_logging(verbose)


def _athena_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Where Athena queries run: the same three flags on every command that runs them."""
    for option in reversed((
            click.option("--workgroup", help="Athena workgroup (default: primary)."),
            click.option("--output-location",
                         help="S3 location of Athena's results (default: the workgroup's)."),
            click.option("--athena-region", help="Region Athena runs in (default: the AWS "
                                                 "region)."))):
        command = option(command)
    return command


def _athena_query_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What the usage queries bring home and how many run at once (ingest, run)."""
    command = click.option("--athena-concurrency", type=click.IntRange(1, 20),
                           help="Athena queries in flight, one per account (default 4).")(command)
    return click.option("--principal", "principals", multiple=True,
                        help="A role ARN to bring home from Athena besides the roles ECS was "
                             "seen assuming (repeatable).")(command)


# `ingest` flags and the settings they set, for --config and RIGHTSIZER_* (see _RUN_FLAGS).
_INGEST_FLAGS = {
    "db": "store.path", "since": "window.since", "until": "window.until",
    "profile": "aws.profile", "endpoint_url": "aws.endpoint_url", "workers": "run.workers",
    "workgroup": "athena.workgroup", "output_location": "athena.output_location",
    "athena_region": "athena.region", "principals": "athena.principals",
    "athena_concurrency": "athena.concurrency",
}


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings (default: $RIGHTSIZER_CONFIG): its [sources] logs and athena "
                   "when no SOURCE is given, [store], [athena], [aws]; flags override it.")
@click.option("--db", type=click.Path(dir_okay=False),
              help=f"The DuckDB store (default {DEFAULT_DB}).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day of the window (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of the window (UTC).")
@click.option("--account", "accounts", multiple=True,
              help="Only this account (repeatable); for Athena, the accounts to query.")
@click.option("--region", "regions", multiple=True,
              help="Only this region's logs (repeatable); see --s3-region for the bucket's.")
@click.option("--profile", help="AWS profile for s3:// and athena:// sources.")
@click.option("--s3-region", help="Region of the S3 client.")
@click.option("--endpoint-url", help="Endpoint for s3:// (S3-compatible) and athena:// sources.")
@click.option("--workers", type=click.IntRange(1, 64), help="Reader processes (default: cores).")
@_athena_options
@_athena_query_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def ingest(sources: tuple[str, ...], config: Path | None, accounts: tuple[str, ...],
           regions: tuple[str, ...], s3_region: str | None, as_json: bool,
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
        settings = _settings(config, given)
        chosen = sources or (*settings.sources.logs, *settings.sources.athena)
        if not chosen:
            raise ConfigError("nothing to ingest: give a SOURCE, or [sources] logs / athena "
                              "in the configuration")
        db = settings.store.path
        scope = rightsizer.Scope(
            since=settings.window.since, until=settings.window.until,
            accounts=frozenset(accounts), regions=frozenset(regions))
        if scope.since and scope.until and scope.since > scope.until:
            raise ConfigError(f"--since {scope.since} is after --until {scope.until}")
        s3_options = None
        if any(s.startswith("s3://") for s in chosen):
            from rightsizer.sources.s3 import S3Options

            s3_options = S3Options(profile=settings.aws.profile, region=s3_region,
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
        sources_read, principals, workers = chosen, settings.athena.principals, settings.run.workers
        with _Progress(enabled=not as_json and sys.stdout.isatty()) as bar:
            summary = rightsizer.ingest(sources_read, db, scope=scope, s3_options=s3_options,
                                        athena=athena, athena_accounts=settings.athena.accounts,
                                        principals=principals, workers=workers,
                                        progress=bar.advance, on_total=bar.add_total)
        if as_json:
            _print_json(summary.as_json())
        else:
            _print_ingest(summary, db)
        for bad in summary.bad_inputs:
            _say_error(f"bad input: {bad.path}: {bad.reason}")
        return EXIT_OK if summary.ok else EXIT_DATA

    _run(action)


@main.command()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings, as for run ([sources] iam, ecs; [store] path; [aws]); "
                   "default $RIGHTSIZER_CONFIG. Flags override it.")
@click.option("--iam", "iam_source", metavar="FILE|aws",
              help="`aws iam get-account-authorization-details` output, or `aws` to read the "
                   "account live.")
@click.option("--ecs", "ecs_source", metavar="FILE|aws",
              help="Task definitions (describe-task-definition output, a list, "
                   "{\"taskDefinitions\": [...]}, or a folder of them), or `aws` to read "
                   "them live.")
@click.option("--db", type=click.Path(dir_okay=False),
              help=f"The store: its events show which roles ECS assumed (default {DEFAULT_DB}).")
@click.option("--profile", help="AWS profile for live reads.")
@click.option("--aws-region", "aws_regions", multiple=True,
              help="Region for live reads; repeat to read task definitions of several regions.")
@click.option("--endpoint-url", help="Endpoint for live reads (a proxy, a VPC endpoint, moto).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def inventory(config: Path | None, iam_source: str | None, ecs_source: str | None,
              db: str | None, profile: str | None, aws_regions: tuple[str, ...],
              endpoint_url: str | None, as_json: bool) -> None:
    """List the account's roles: which are ECS task principals, their kinds, the task
    definitions that use them, what those declare they need, and findings.

    Exit 4 when some input (a policy, a role entry, a task definition) could not be read; the
    rest is still listed."""

    def action() -> int:
        from rightsizer.sources.aws import AwsOptions

        given: dict[str, object] = {"sources.iam": iam_source, "sources.ecs": ecs_source,
                                    "store.path": db, "aws.profile": profile,
                                    "aws.endpoint_url": endpoint_url,
                                    "aws.region": aws_regions[0] if aws_regions else None}
        settings = _settings(config, {k: v for k, v in given.items() if v is not None})
        for name in ("iam", "ecs"):
            if not getattr(settings.sources, name):
                raise ConfigError(f"sources.{name} is not set: give --{name} FILE|aws, or "
                                  f"[sources] {name} = ... in --config")
        options = AwsOptions(profile=settings.aws.profile, region=settings.aws.region,
                             endpoint_url=settings.aws.endpoint_url)
        result = rightsizer.inventory(settings.sources.iam, settings.sources.ecs,
                                      settings.store.path, aws=options,
                                      ecs_regions=aws_regions)
        if as_json:
            _print_json(result.as_json())
        else:
            _print_inventory(result)
        for problem in result.problems:
            _say_error(f"bad input: {problem.what}: {problem.reason}")
        return EXIT_DATA if result.problems else EXIT_OK

    _run(action)


# `run` flags and the settings they set (rightsizer/settings.py). Every flag defaults to None
# (not given), so that it overrides the environment and the file only when given.
_RUN_FLAGS = {
    "iam_source": "sources.iam", "ecs_source": "sources.ecs", "trail_files": "sources.trail",
    "out": "output.folder", "db": "store.path", "since": "window.since",
    "until": "window.until", "days": "window.days", "dated": "output.dated",
    "keep": "output.keep", "fail_on_findings": "run.fail_on_findings",
    "fail_on": "findings.fail_on", "profile": "aws.profile", "aws_region": "aws.region",
    "endpoint_url": "aws.endpoint_url", "workgroup": "athena.workgroup",
    "output_location": "athena.output_location", "athena_region": "athena.region",
    "accounts": "athena.accounts", "principals": "athena.principals",
    "athena_concurrency": "athena.concurrency",
    "workers": "run.workers", "pdf": "run.pdf", "log_format": "logging.format",
}


@main.command()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings (default: $RIGHTSIZER_CONFIG). Layers: defaults < this file "
                   "< RIGHTSIZER_* environment < flags.")
@click.option("--logs", "logs", multiple=True,
              help="CloudTrail to ingest first: a file, a folder, s3://bucket/prefix or "
                   "athena://DATABASE.TABLE (repeatable). Without any, the store is analyzed "
                   "as it is.")
@click.option("--iam", "iam_source", metavar="FILE|aws",
              help="IAM authorization details file, or `aws` to read the account live.")
@click.option("--ecs", "ecs_source", metavar="FILE|aws",
              help="Task definitions file or folder, or `aws` to read them live.")
@click.option("--out", help="Output folder (summary.json, roles/<RoleName>/..., reports).")
@click.option("--dated/--no-dated", default=None,
              help="Write each run to OUT/<UTC stamp>/ and point OUT/latest at it.")
@click.option("--keep", type=click.IntRange(0), help="Dated runs to keep (0: all).")
@click.option("--db", help=f"The DuckDB store (default {DEFAULT_DB}).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="First day of the window (UTC; default: the store's first event, or "
                   "--days before --until).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the window (UTC; default: the store's last event, or today "
                   "with --days).")
@click.option("--days", type=click.IntRange(1), help="A trailing window of this many days.")
@click.option("--trail", "trail_files", multiple=True,
              help="`aws cloudtrail get-event-selectors` output (repeatable), or `aws` to "
                   "read the account's trails live (the default with --iam aws): what the trails "
                   "record. Otherwise PutEventSelectors calls in the logs, or inferred from the "
                   "logs' own data events.")
@click.option("--fail-on-findings/--no-fail-on-findings", default=None,
              help="Exit 3 when a role has findings at the --fail-on severity or worse.")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low", "info"]),
              help="The severity for --fail-on-findings (default: high).")
@click.option("--profile", help="AWS profile for live reads, s3:// logs and Athena.")
@click.option("--aws-region", help="Region for live reads.")
@click.option("--endpoint-url", help="Endpoint for live reads, s3:// logs and Athena.")
@_athena_options
@click.option("--account", "accounts", multiple=True,
              help="An account whose partitions Athena reads (repeatable).")
@_athena_query_options
@click.option("--workers", type=click.IntRange(1, 64), help="Reader processes (default: cores).")
@click.option("--pdf/--no-pdf", default=None,
              help="Also print report.pdf with headless Chromium.")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Logs on stderr as text or one JSON object a line (default: text).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def run(config: Path | None, logs: tuple[str, ...], as_json: bool, **flags: Any) -> None:
    """Ingest, inventory, analyze and propose in one go, and write the output folder: the
    scheduled job. Settings come from defaults < --config FILE < RIGHTSIZER_* environment <
    these flags (see README, "Running it on a schedule").

    Exit 2 for a bad setting or while another run holds the store; exit 3 with
    --fail-on-findings when a role has findings at the configured severity; exit 4 when some
    input could not be read (everything readable was still used)."""

    def action() -> int:
        # JSON logs from the start when asked for by flag or environment, so that even a
        # settings error reaches the log collector as JSON.
        if (flags["log_format"] or os.environ.get("RIGHTSIZER_LOGGING_FORMAT")) == "json":
            _state["json_logs"] = True
            _setup_logging(_state["verbose"], "json")
        given: dict[str, object] = {_RUN_FLAGS[k]: v for k, v in flags.items()}
        given["sources.logs"] = tuple(s for s in logs if not s.startswith("athena://"))
        given["sources.athena"] = tuple(s for s in logs if s.startswith("athena://"))
        settings = _settings(config, given)
        if settings.logging.format == "json" or settings.logging.level != "warning":
            _state["json_logs"] = settings.logging.format == "json"
            _setup_logging(_state["verbose"], settings.logging.format, settings.logging.level)
        shown = sys.stderr.isatty() and not _state["json_logs"]
        with _StageProgress(enabled=shown) as stages:
            result = rightsizer.run_job(settings, progress=stages)
        if as_json:
            _print_json(_run_json(result))
        else:
            _print_run(result)
        for problem in result.problems:
            _say_error(f"bad input: {problem}")
        if result.problems:
            return EXIT_DATA
        if result.roles and not result.judged:
            # A feed that stopped must not read as "nothing was used": the scheduler hears it.
            _say_error(f"no role could be judged: the logs read hold no evidence for any of the "
                       f"{len(result.roles)} ECS roles (see INSUFFICIENT_EVIDENCE in "
                       f"{result.out / 'report.md'}); nothing was proposed", EXIT_DATA)
            return EXIT_DATA
        worst = result.worst_findings(settings.fail_on)
        if settings.run.fail_on_findings and worst:
            _say_error(f"{len(worst)} findings at {settings.fail_on.value} or worse "
                       "(--fail-on-findings)", EXIT_FINDINGS)
            return EXIT_FINDINGS
        return EXIT_OK

    _run(action)


# `athena setup` flags whose setting is not athena.<flag>.
_SETUP_FLAGS = {"athena_region": "athena.region", "profile": "aws.profile",
                "endpoint_url": "aws.endpoint_url"}


@main.group()
def athena() -> None:
    """The CloudTrail table in Athena, for organizations whose trails outgrow one machine."""


@athena.command("setup")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings ([sources] athena, [athena] bucket, layout, ...).")
@click.option("--table", help="athena://DATABASE.TABLE to create.")
@click.option("--bucket", help="The trail's S3 bucket (no s3://).")
@click.option("--prefix", help="Key prefix before AWSLogs/ (ending in /).")
@click.option("--layout", type=click.Choice(["organization", "account"]),
              help="An organization trail (AWSLogs/o-.../ACCOUNT/) or one account's.")
@click.option("--organization-id", help="o-... for an organization trail.")
@click.option("--account", "accounts", multiple=True,
              help="The account of a single-account trail.")
@click.option("--region", "regions", multiple=True, help="A region the trail logs (repeatable).")
@click.option("--projection-start", type=click.DateTime(["%Y-%m-%d"]),
              help="First delivery day to project (default 2020-01-01).")
@_athena_options
@click.option("--profile", help="AWS profile (with --apply).")
@click.option("--endpoint-url", help="Athena endpoint (with --apply).")
@click.option("--apply", is_flag=True, help="Create the database and table in Athena.")
def athena_setup(config: Path | None, table: str | None, apply: bool, **flags: Any) -> None:
    """Print (or with --apply create) the CloudTrail table with partition projection: account
    (injected for organization trails), region and delivery date. DDL is free in Athena."""

    def action() -> int:
        given: dict[str, object] = {_SETUP_FLAGS.get(k, f"athena.{k}"): v
                                    for k, v in flags.items()}
        given["sources.athena"] = (table,) if table else ()
        settings = _settings(config, given)
        setup = rightsizer.athena_setup(settings, apply=apply)
        for statement in setup.statements:
            _echo(statement.rstrip().rstrip(";") + ";\n")
        if apply:
            _echo(f"-- created {setup.table} (queries {', '.join(setup.applied)})", err=True)
        return EXIT_OK

    _run(action)


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--pdf", is_flag=True, help="Also print report.pdf with headless Chromium.")
def report(out: Path, pdf: bool) -> None:
    """Write OUT's reports again from OUT/summary.json: report.html, report.md, findings.csv
    (and report.pdf with --pdf)."""

    def action() -> int:
        for path in rightsizer.render_reports(out, pdf=pdf):
            _echo(str(path))
        return EXIT_OK

    _run(action)


def _in_report_order(result: Any) -> list[tuple[Any, dict[str, Any]]]:
    """Each role's result with its summary entry, in the summary's (the report's) order."""
    by_arn = {r.role.arn: r for r in result.roles}
    return [(by_arn[entry["arn"]], entry) for entry in result.summary["roles"]]


def _run_json(result: Any) -> dict[str, Any]:
    return {
        "out": str(result.out),
        "latest": str(result.latest) if result.latest else None,
        "removed_runs": [str(p) for p in result.removed],
        "summary": str(result.out / "summary.json"),
        "window": result.summary["window"],
        "events_in_window": result.events_in_window,
        "roles": [{
            "name": r.role.name,
            "kinds": list(r.role.kinds),
            "granted": len(r.grants.actions),
            "used": len(r.actions("used")),
            "proposed": len(r.proposed_actions),
            "policy_path": written["policy_path"],
            "proof_passed": r.replay.passed if r.replay else None,
            "evidence_sufficient": r.sufficiency.sufficient,
            "confidence": r.sufficiency.confidence,
            "findings": [f.as_json() for f in r.findings],
        } for r, written in _in_report_order(result)],
        "problems": list(result.problems),
        "athena": ({"queries": len(result.ingest.athena_queries),
                    "bytes_scanned": result.ingest.athena_bytes_scanned,
                    "cost_usd": round(result.ingest.athena_cost_usd, 6)}
                   if result.ingest and result.ingest.athena_queries else None),
        "settings": result.settings.describe(),
    }


def _print_run(result: Any) -> None:
    first, last = result.window.first_day, result.window.last_day
    days = (last - first).days + 1
    _echo(f"Window {first:%Y-%m-%d} to {last:%Y-%m-%d} ({plural(days, 'day')}, "
          f"{result.events_in_window:,} events); {len(result.roles)} ECS roles -> {result.out}")
    if result.trails_assumed:
        _echo("  trails: inferred from the logs (management events, and data events "
                   "where the logs hold some); give --trail FILE or --trail aws for the real "
                   "selectors")
    header = f"  {'role':<36} {'kinds':<15} {'granted':>7} {'used':>5} {'proposed':>8} " \
             f"{'cut':>5} {'confidence':<11} findings"
    _echo(header)
    for r, _ in _in_report_order(result):
        granted = len(r.grants.actions)
        proposed = len(r.proposed_actions)
        cut = f"{100 * (granted - proposed) / granted:.0f}%" if granted and r.proposal else "-"
        worst = r.findings[0].severity.value if r.findings else ""
        kinds = "+".join(r.role.kinds) or "?"
        confidence = r.sufficiency.confidence if r.sufficiency.sufficient else "no evidence"
        _echo(f"  {_one(r.role.name)[:36]:<36} {kinds:<15} {granted:>7} "
                   f"{len(r.actions('used')):>5} {proposed if r.proposal else '-':>8} "
                   f"{cut:>5} {confidence:<11} {len(r.findings)} {worst}")
    report_files = ", ".join(p for p in ("report.html", "report.md", "findings.csv", "report.pdf")
                             if (result.out / p).exists())
    _echo(f"  reports: {report_files}")
    if result.latest:
        _echo(f"  latest: {result.latest} -> {result.out.name}")
    if result.ingest and result.ingest.athena_queries:
        _echo(f"  Athena: {_size(result.ingest.athena_bytes_scanned)} scanned in "
                   f"{len(result.ingest.athena_queries)} queries, "
                   f"{result.ingest.athena_cost_usd:.4f} USD")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--events", default=5000, show_default=True, type=click.IntRange(1),
              help="Distinct CloudTrail events of traffic to write (six changes to roles "
                   "come on top).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed: the same seed and options write the same bytes.")
@click.option("--services", default=6, show_default=True, type=click.IntRange(1),
              help="ECS services (task definition families).")
@click.option("--days", default=35, show_default=True, type=click.IntRange(1),
              help="Days of CloudTrail, ending 2026-11-01.")
@click.option("--events-per-file", type=click.IntRange(1),
              help="Mean records per delivery file (default: ~5-minute files).")
@click.option("--digest-hours", default=1, show_default=True, type=click.IntRange(1),
              help="Hours between digest files (CloudTrail: 1).")
@click.option("--failures", is_flag=True,
              help="Add services that fail to start (a missing ECR permission, a wrong trust "
                   "principal, a KMS key without grant, a cross-account repository without "
                   "policy) and OUT/ecs/stopped-tasks.json: input for rightsizer explain.")
def simulate(out: Path, events: int, seed: int, services: int, days: int,
             events_per_file: int | None, digest_hours: int, failures: bool) -> None:
    """Write a synthetic account to OUT: CloudTrail delivery files, IAM and ECS JSON."""

    def action() -> int:
        result = rightsizer.simulate_account(out, events=events, seed=seed, services=services,
                                             days=days, events_per_file=events_per_file,
                                             digest_hours=digest_hours, failures=failures)
        _echo(f"{result.distinct_events:,} events ({result.duplicate_deliveries:,} "
                   f"delivered twice) in {result.delivery_files:,} delivery files, "
                   f"{result.start:%Y-%m-%d} to {result.end:%Y-%m-%d}")
        _echo(f"  logs: {result.cloudtrail_dir}")
        _echo(f"  IAM:  {result.iam_path}")
        _echo(f"  ECS:  {result.ecs_path}")
        _echo(f"  trail: {result.trail_path}")
        if result.stopped_tasks_path:
            _echo(f"  stopped tasks: {result.stopped_tasks_path}")
        return EXIT_OK

    _run(action)


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


def _settings(config: Path | None, given: dict[str, object]) -> Any:
    """The layered settings: defaults < ``config`` (or $RIGHTSIZER_CONFIG) < RIGHTSIZER_*
    environment < the flags given (dotted setting names; click's datetimes become days)."""
    from rightsizer.settings import load_settings

    flags = {k: _day(v) if isinstance(v, datetime) else v for k, v in given.items()}
    return load_settings(config, env=os.environ, flags=flags)


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


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


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


# Commands kept in modules of their own, so that this one stays the command group and the
# commands of the pipeline's main path.
main.add_command(new_role)
main.add_command(explain)
