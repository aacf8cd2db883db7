"""The ``rightsizer`` command: argument handling, printing and exit codes, nothing more.

Exit codes (DESIGN.md): 0 done; 1 bug; 2 usage or configuration error; 3 findings (with
``--fail-on-findings``); 4 data error (some input unreadable, everything readable processed).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click
import orjson

import rightsizer
from rightsizer.errors import ConfigError, PolicyError, RightsizerError, SourceError, StoreError

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_FINDINGS, EXIT_DATA = 0, 1, 2, 3, 4
DEFAULT_DB = "rightsizer.duckdb"


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# The library's typed errors and their exit codes, most specific first.
_EXIT_CODES: tuple[tuple[type[RightsizerError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (StoreError, EXIT_USAGE),
    (SourceError, EXIT_DATA),
    (PolicyError, EXIT_DATA),
    (RightsizerError, EXIT_BUG),
)


def _run(action: Callable[[], int]) -> None:
    """Map the library's typed errors to exit codes; anything else is a bug (exit 1)."""
    try:
        code = action()
    except RightsizerError as exc:
        click.echo(f"rightsizer: {exc}", err=True)
        code = next(code for kind, code in _EXIT_CODES if isinstance(exc, kind))
    sys.exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rightsizer.__version__, prog_name="rightsizer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Least-privilege IAM for ECS task and execution roles, from what CloudTrail shows."""
    _setup_logging(verbose)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--db", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="The DuckDB store.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day of the window (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day of the window (UTC).")
@click.option("--account", "accounts", multiple=True, help="Only this account (repeatable).")
@click.option("--region", "regions", multiple=True,
              help="Only this region's logs (repeatable); see --s3-region for the bucket's.")
@click.option("--profile", help="AWS profile for s3:// sources.")
@click.option("--s3-region", help="Region of the S3 client.")
@click.option("--endpoint-url", help="S3-compatible endpoint for s3:// sources.")
@click.option("--workers", type=click.IntRange(1, 64), help="Reader processes (default: cores).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def ingest(sources: tuple[str, ...], db: str, since: Any, until: Any, accounts: tuple[str, ...],
           regions: tuple[str, ...], profile: str | None, s3_region: str | None,
           endpoint_url: str | None, workers: int | None, as_json: bool) -> None:
    """Read CloudTrail from SOURCE... (files, folders, s3://bucket/prefix) into the store.

    Files already read (same path and size/mtime, or same S3 ETag) are not read again; every
    event is stored once. Exit 4 when some input could not be read (the rest is stored)."""

    def action() -> int:
        scope = rightsizer.Scope(
            since=_day(since), until=_day(until),
            accounts=frozenset(accounts), regions=frozenset(regions))
        if scope.since and scope.until and scope.since > scope.until:
            raise ConfigError(f"--since {scope.since} is after --until {scope.until}")
        s3_options = None
        if any(s.startswith("s3://") for s in sources):
            from rightsizer.sources.s3 import S3Options

            s3_options = S3Options(profile=profile, region=s3_region, endpoint_url=endpoint_url)
        with _Progress(enabled=not as_json and sys.stdout.isatty()) as bar:
            summary = rightsizer.ingest(sources, db, scope=scope, s3_options=s3_options,
                                        workers=workers, progress=bar.advance,
                                        on_total=bar.add_total)
        if as_json:
            _print_json(summary.as_json())
        else:
            _print_ingest(summary, db)
        for bad in summary.bad_inputs:
            click.echo(f"rightsizer: bad input: {bad.path}: {bad.reason}", err=True)
        return EXIT_OK if summary.ok else EXIT_DATA

    _run(action)


@main.command()
@click.option("--iam", "iam_source", required=True, metavar="FILE|aws",
              help="`aws iam get-account-authorization-details` output, or `aws` to read the "
                   "account live.")
@click.option("--ecs", "ecs_source", required=True, metavar="FILE|aws",
              help="Task definitions (describe-task-definition output, a list, "
                   "{\"taskDefinitions\": [...]}, or a folder of them), or `aws` to read "
                   "them live.")
@click.option("--db", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="The store: its events show which roles ECS assumed.")
@click.option("--profile", help="AWS profile for live reads.")
@click.option("--aws-region", "aws_regions", multiple=True,
              help="Region for live reads; repeat to read task definitions of several regions.")
@click.option("--endpoint-url", help="Endpoint for live reads (a proxy, a VPC endpoint, moto).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def inventory(iam_source: str, ecs_source: str, db: str, profile: str | None,
              aws_regions: tuple[str, ...], endpoint_url: str | None, as_json: bool) -> None:
    """List the account's roles: which are ECS task principals, their kinds, the task
    definitions that use them, what those declare they need, and findings.

    Exit 4 when some input (a policy, a role entry, a task definition) could not be read; the
    rest is still listed."""

    def action() -> int:
        from rightsizer.sources.aws import AwsOptions

        options = AwsOptions(profile=profile, region=aws_regions[0] if aws_regions else None,
                             endpoint_url=endpoint_url)
        result = rightsizer.inventory(iam_source, ecs_source, db, aws=options,
                                      ecs_regions=aws_regions)
        if as_json:
            _print_json(result.as_json())
        else:
            _print_inventory(result)
        for problem in result.problems:
            click.echo(f"rightsizer: bad input: {problem.what}: {problem.reason}", err=True)
        return EXIT_DATA if result.problems else EXIT_OK

    _run(action)


@main.command()
@click.option("--logs", "logs", multiple=True,
              help="CloudTrail to ingest first (file, folder, s3://bucket/prefix; repeatable). "
                   "Without it the store is analyzed as it is.")
@click.option("--iam", "iam_source", required=True, metavar="FILE|aws",
              help="IAM authorization details file, or `aws` to read the account live.")
@click.option("--ecs", "ecs_source", required=True, metavar="FILE|aws",
              help="Task definitions file or folder, or `aws` to read them live.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (summary.json, roles/<RoleName>/...).")
@click.option("--db", default=DEFAULT_DB, show_default=True, type=click.Path(dir_okay=False),
              help="The DuckDB store.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]),
              help="First day of the observation window (UTC; default: the store's first event).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day of the window (UTC; default: the store's last event).")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings: minimum window, exclusions, trails, fail-on severity.")
@click.option("--trail", "trail_files", multiple=True, type=click.Path(dir_okay=False),
              help="`aws cloudtrail get-event-selectors` output (repeatable): what the trails "
                   "record. Default: all management events, no data events (assumed).")
@click.option("--fail-on-findings", is_flag=True,
              help="Exit 3 when a role has findings at the configured severity or worse "
                   "(default: high).")
@click.option("--profile", help="AWS profile for live reads and s3:// logs.")
@click.option("--aws-region", help="Region for live reads.")
@click.option("--endpoint-url", help="Endpoint for live reads and s3:// logs.")
@click.option("--workers", type=click.IntRange(1, 64), help="Reader processes (default: cores).")
@click.option("--pdf", is_flag=True, help="Also print report.pdf with headless Chromium.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def run(logs: tuple[str, ...], iam_source: str, ecs_source: str, out: Path, db: str,
        since: Any, until: Any, config: Path | None, trail_files: tuple[str, ...],
        fail_on_findings: bool, profile: str | None, aws_region: str | None,
        endpoint_url: str | None, workers: int | None, pdf: bool, as_json: bool) -> None:
    """Ingest, inventory, analyze and propose in one go, and write the output folder.

    Exit 3 with --fail-on-findings when a role has findings at the configured severity; exit 4
    when some input could not be read (everything readable was still used)."""

    def action() -> int:
        from rightsizer.settings import load_settings
        from rightsizer.sources.aws import AwsOptions
        from rightsizer.sources.s3 import S3Options

        if since and until and since > until:
            raise ConfigError(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}")
        settings = load_settings(config)
        result = rightsizer.run(
            logs=logs, iam=iam_source, ecs=ecs_source, out=out, db=db, since=since,
            until=until, settings=settings, trail_files=trail_files,
            aws=AwsOptions(profile=profile, region=aws_region, endpoint_url=endpoint_url),
            s3_options=S3Options(profile=profile, endpoint_url=endpoint_url), workers=workers,
            pdf=pdf)
        if as_json:
            _print_json(_run_json(result))
        else:
            _print_run(result)
        for problem in result.problems:
            click.echo(f"rightsizer: bad input: {problem}", err=True)
        if result.problems:
            return EXIT_DATA
        if fail_on_findings and result.worst_findings(settings.fail_on):
            return EXIT_FINDINGS
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
            click.echo(str(path))
        return EXIT_OK

    _run(action)


def _run_json(result: Any) -> dict[str, Any]:
    return {
        "out": str(result.out),
        "summary": str(result.out / "summary.json"),
        "window": result.summary["window"],
        "events_in_window": result.events_in_window,
        "roles": [{
            "name": r.role.name,
            "kinds": list(r.role.kinds),
            "granted": len(r.grants.actions),
            "used": len(r.actions("used")),
            "proposed": len(r.proposed_actions),
            "policy_path": (f"roles/{r.role.name}/policy.json" if r.proposal else None),
            "proof_passed": r.replay.passed if r.replay else None,
            "findings": [f.as_json() for f in r.findings],
        } for r in result.roles],
        "problems": list(result.problems),
    }


def _print_run(result: Any) -> None:
    window = result.window
    click.echo(f"Window {window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} "
               f"({window.days:.0f} days, {result.events_in_window:,} events); "
               f"{len(result.roles)} ECS roles -> {result.out}")
    if result.trails_assumed:
        click.echo("  trails: assumed (all management events, no data events); "
                   "give --trail for the real selectors")
    header = f"  {'role':<36} {'kinds':<15} {'granted':>7} {'used':>5} {'proposed':>8} " \
             f"{'cut':>5}  findings"
    click.echo(header)
    for r in result.roles:
        granted = len(r.grants.actions)
        proposed = len(r.proposed_actions)
        cut = f"{100 * (granted - proposed) / granted:.0f}%" if granted and r.proposal else "-"
        worst = r.findings[0].severity.value if r.findings else ""
        kinds = "+".join(r.role.kinds) or "?"
        click.echo(f"  {r.role.name[:36]:<36} {kinds:<15} {granted:>7} "
                   f"{len(r.actions('used')):>5} {proposed if r.proposal else '-':>8} "
                   f"{cut:>5}  {len(r.findings)} {worst}")
    report_files = ", ".join(p for p in ("report.html", "report.md", "findings.csv", "report.pdf")
                             if (result.out / p).exists())
    click.echo(f"  reports: {report_files}")


@main.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--events", default=5000, show_default=True, type=click.IntRange(1),
              help="Distinct CloudTrail events to write.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--services", default=6, show_default=True, type=click.IntRange(1),
              help="ECS services (task definition families).")
@click.option("--days", default=35, show_default=True, type=click.IntRange(1))
@click.option("--events-per-file", type=click.IntRange(1),
              help="Mean records per delivery file (default: ~5-minute files).")
@click.option("--digest-hours", default=1, show_default=True, type=click.IntRange(1),
              help="Hours between digest files (CloudTrail: 1).")
def simulate(out: Path, events: int, seed: int, services: int, days: int,
             events_per_file: int | None, digest_hours: int) -> None:
    """Write a synthetic account to OUT: CloudTrail delivery files, IAM and ECS JSON."""

    def action() -> int:
        result = rightsizer.simulate_account(out, events=events, seed=seed, services=services,
                                             days=days, events_per_file=events_per_file,
                                             digest_hours=digest_hours)
        click.echo(f"{result.distinct_events:,} events ({result.duplicate_deliveries:,} "
                   f"delivered twice) in {result.delivery_files:,} delivery files, "
                   f"{result.start:%Y-%m-%d} to {result.end:%Y-%m-%d}")
        click.echo(f"  logs: {result.cloudtrail_dir}")
        click.echo(f"  IAM:  {result.iam_path}")
        click.echo(f"  ECS:  {result.ecs_path}")
        click.echo(f"  trail: {result.trail_path}")
        return EXIT_OK

    _run(action)


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


def _print_ingest(summary: rightsizer.IngestSummary, db: str) -> None:
    click.echo(f"Read {summary.files_ingested:,} new files of {summary.files_seen:,} seen "
               f"({summary.files_already_ingested:,} already ingested) in "
               f"{summary.seconds:.1f} s into {db}")
    click.echo(f"  {summary.events_ingested:,} new events, "
               f"{summary.events_duplicate:,} duplicates not stored")
    reasons = Counter(s.reason for s in summary.files_skipped)
    for reason, n in reasons.most_common():
        click.echo(f"  skipped {n:,}: {reason}")
    if summary.bad_inputs:
        click.echo(f"  {len(summary.bad_inputs):,} bad inputs (listed on stderr)")


def _print_inventory(result: Any) -> None:
    ecs_roles = result.ecs_roles
    click.echo(f"{len(result.roles)} roles, {len(ecs_roles)} ECS principals, "
               f"{len(result.task_definitions)} task definitions "
               f"(IAM catalog {result.catalog_version})")
    for role in ecs_roles:
        kinds = "+".join(role.kinds) or "kind unknown"
        click.echo(f"  {role.name}  [{kinds}]  {len(role.families)} families, "
                   f"{len(role.needs)} declared needs, {len(role.findings)} findings")
        for finding in role.findings:
            click.echo(f"    {finding.severity.value.upper():8} {finding.code}: {finding.message}")


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
