"""The ``rightsizer`` command: argument handling, printing and exit codes, nothing more.

Exit codes: 0 done; 1 bug; 2 usage or configuration error; 3 findings (with
``--fail-on-findings``); 4 data error (some input unreadable, everything readable processed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

import rightsizer
from rightsizer.cli_inputs import DEFAULT_DB, ingest, inventory
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
    EXIT_FINDINGS,
    EXIT_OK,
    _echo,
    _one,
    _print,
    _run,
    _say_error,
    _say_warning,
    _setup_logging,
    _size,
    _StageProgress,
    _state,
)
from rightsizer.cli_roles import explain, new_role
from rightsizer.text import plural


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rightsizer.__version__, prog_name="rightsizer")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Least-privilege IAM for ECS task and execution roles, from what CloudTrail shows."""
    _state["verbose"] = verbose
    _state["json_logs"] = False
    _setup_logging(verbose)


# `run` flags and the settings they set (rightsizer/settings.py). Every flag defaults to None
# (not given), so that it overrides the environment and the file only when given.
_RUN_FLAGS = {
    "iam_source": "sources.iam", "ecs_source": "sources.ecs", "trail_files": "sources.trail",
    "out": "output.folder", "db": "store.path", "since": "window.since",
    "until": "window.until", "days": "window.days", "dated": "output.dated",
    "keep": "output.keep", "fail_on_findings": "run.fail_on_findings",
    "fail_on": "findings.fail_on", "profile": "aws.profile", "region": "aws.region",
    "ecs_regions": "aws.ecs_regions", "aws_region": "aws.region",
    "endpoint_url": "aws.endpoint_url", "workgroup": "athena.workgroup",
    "output_location": "athena.output_location", "athena_region": "athena.region",
    "accounts": "athena.accounts", "principals": "athena.principals",
    "athena_concurrency": "athena.concurrency",
    "workers": "run.workers", "pdf": "run.pdf", "log_format": "logging.format",
    "public_keys": "sources.public_keys", "require_valid_logs": "run.require_valid_logs",
    "last_accessed": "sources.last_accessed", "organization": "aws.organization",
    "assume_role": "aws.assume_role",
}


@main.command()
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings (default: $RIGHTSIZER_CONFIG). Layers: defaults < this file "
                   "< RIGHTSIZER_* environment < flags.")
@click.option("--logs", "logs", multiple=True,
              help="CloudTrail to ingest first: a file, a folder, s3://bucket/prefix or "
                   "athena://DATABASE.TABLE (repeatable). Without any, the store is analyzed "
                   "as it is.")
@click.option("--iam", "iam_source", metavar="FILE|FOLDER|aws",
              help="`aws iam get-account-authorization-details` output, a folder of them (one "
                   "per account), or `aws` to read the account live (every --account with "
                   "--assume-role).")
@click.option("--ecs", "ecs_source", metavar="FILE|FOLDER|aws",
              help="Task definitions file or folder, or `aws` to read them live.")
@click.option("--out", help="Output folder (summary.json, roles/<RoleName>/... or, for several "
                            "accounts, accounts/<Account>/roles/<RoleName>/..., reports).")
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
@click.option("--public-keys", metavar="FILE",
              help="`aws cloudtrail list-public-keys` output: check the digests beside the logs "
                   "(live from CloudTrail for s3:// logs).")
@click.option("--last-accessed", metavar="FILE|aws",
              help="IAM last-accessed data per role (role ARN -> `aws iam "
                   "get-service-last-accessed-details` output), or `aws` to read it live: a "
                   "second witness; what IAM saw used is kept.")
@click.option("--require-valid-logs/--no-require-valid-logs", default=None,
              help="Exit 4 when a log file used failed integrity validation (modified, "
                   "missing, a digest's signature or chain broken).")
@click.option("--fail-on-findings/--no-fail-on-findings", default=None,
              help="Exit 3 when a role has findings at the --fail-on severity or worse.")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low", "info"]),
              help="The severity for --fail-on-findings (default: high).")
@aws_options("live reads, s3:// logs and Athena")
@click.option("--ecs-region", "ecs_regions", multiple=True, metavar="REGION",
              help="With --ecs aws: a region whose task definitions to read (repeatable; "
                   "default: --region).")
@deprecated_option("--aws-region", "--region")
@athena_options
@member_options
@athena_query_options
@click.option("--workers", type=click.IntRange(1, 64), help="Reader processes (default: cores).")
@click.option("--pdf/--no-pdf", default=None,
              help="Also print report.pdf with headless Chromium.")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Logs on stderr as text or one JSON object a line (default: text).")
@output_options
def run(config: Path | None, logs: tuple[str, ...], output: str, **flags: Any) -> None:
    """Ingest, inventory, analyze and propose in one go, and write the output folder: the
    scheduled job. Settings come from defaults < --config FILE < RIGHTSIZER_* environment <
    these flags (see docs/schedule.md).

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
        given["aws.accounts"] = flags["accounts"]  # Athena's partitions, and the members read
        given["aws.region"] = flags["region"] or flags["aws_region"]
        given["sources.logs"] = tuple(s for s in logs if not s.startswith("athena://"))
        given["sources.athena"] = tuple(s for s in logs if s.startswith("athena://"))
        settings = load_cli_settings(config, given)
        if settings.logging.format == "json" or settings.logging.level != "warning":
            _state["json_logs"] = settings.logging.format == "json"
            _setup_logging(_state["verbose"], settings.logging.format, settings.logging.level)
        shown = sys.stderr.isatty() and not _state["json_logs"]
        with _StageProgress(enabled=shown) as stages:
            result = rightsizer.run_job(settings, progress=stages)
        _print(output, lambda: _run_json(result), lambda: _print_run(result))
        for problem in result.problems:
            _say_error(f"bad input: {problem}")
        tampered = result.integrity.tampered if result.integrity else ()
        for file in tampered[:20]:
            _say_error(f"log integrity: {file.path}: {file.status.value}: {file.reason}")
        if len(tampered) > 20:
            _say_error(f"log integrity: {len(tampered) - 20:,} more files failed (summary.json "
                       "integrity.files)")
        if result.problems:
            return EXIT_DATA
        if tampered and settings.run.require_valid_logs:
            _say_error(f"{plural(len(tampered), 'log file')} failed integrity validation "
                       "(--require-valid-logs)", EXIT_DATA)
            return EXIT_DATA
        if result.roles and not result.judged:
            # A feed that stopped must not read as "nothing was used": the scheduler hears it.
            _say_error(f"no role could be judged: the logs read hold no evidence for any of the "
                       f"{len(result.roles)} ECS roles (see their findings in "
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
                "region": "aws.region", "endpoint_url": "aws.endpoint_url",
                "log_regions": "athena.regions"}


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
@click.option("--log-region", "log_regions", multiple=True, metavar="REGION",
              help="A region the trail logs (repeatable).")
@click.option("--projection-start", type=click.DateTime(["%Y-%m-%d"]),
              help="First delivery day to project (default 2020-01-01).")
@athena_options
@aws_options("Athena (with --apply)")
@click.option("--apply", is_flag=True, help="Create the database and table in Athena.")
def athena_setup(config: Path | None, table: str | None, apply: bool, **flags: Any) -> None:
    """Print (or with --apply create) the CloudTrail table with partition projection: account
    (injected for organization trails), region and delivery date. DDL is free in Athena."""

    def action() -> int:
        given: dict[str, object] = {_SETUP_FLAGS.get(k, f"athena.{k}"): v
                                    for k, v in flags.items()}
        given["sources.athena"] = (table,) if table else ()
        if flags["region"] and not apply:
            # Before 0.2.0 `athena setup --region` listed the trail's regions.
            _say_warning(f"--region {flags['region']} sets the region of Athena's API, which "
                         "only --apply calls; the regions the trail logs are --log-region "
                         f"(athena setup --region meant them before {REGION_CHANGED_IN})")
        settings = load_cli_settings(config, given)
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
            "account": written["account"],
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
    accounts = result.summary.get("organization", {}).get("accounts", ())
    if accounts:
        _echo(f"  {plural(len(accounts), 'account')}: roles are named ACCOUNT/ROLE, their files "
              "under accounts/ACCOUNT/roles/ROLE")
    header = f"  {'role':<36} {'kinds':<15} {'granted':>7} {'used':>5} {'proposed':>8} " \
             f"{'cut':>5} {'confidence':<11} findings"
    _echo(header)
    for r, written in _in_report_order(result):
        granted = len(r.grants.actions)
        proposed = len(r.proposed_actions)
        cut = f"{100 * (granted - proposed) / granted:.0f}%" if granted and r.proposal else "-"
        worst = r.findings[0].severity.value if r.findings else ""
        kinds = "+".join(r.role.kinds) or "?"
        confidence = r.sufficiency.confidence if r.sufficiency.sufficient else "no evidence"
        _echo(f"  {_one(written['label'])[:36]:<36} {kinds:<15} {granted:>7} "
                   f"{len(r.actions('used')):>5} {proposed if r.proposal else '-':>8} "
                   f"{cut:>5} {confidence:<11} {len(r.findings)} {worst}")
    report_files = ", ".join(p for p in ("report.html", "report.md", "findings.csv", "report.pdf")
                             if (result.out / p).exists())
    _echo(f"  reports: {report_files}")
    if result.latest:
        _echo(f"  latest: {result.latest} -> {result.out.name}")
    if result.integrity:
        counts = {k: v for k, v in result.integrity.counts().items() if v}
        _echo("  log integrity: " + ", ".join(f"{n:,} {status.replace('_', ' ')}"
                                              for status, n in counts.items()))
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
@click.option("--accounts", default=1, show_default=True, type=click.IntRange(1),
              help="Accounts of an organization, each with --services services, in one "
                   "organization trail; IAM and ECS files one per account (folders).")
def simulate(out: Path, events: int, seed: int, services: int, days: int,
             events_per_file: int | None, digest_hours: int, failures: bool,
             accounts: int) -> None:
    """Write a synthetic account (or organization) to OUT: CloudTrail delivery files, IAM and
    ECS JSON."""

    def action() -> int:
        result = rightsizer.simulate_account(out, events=events, seed=seed, services=services,
                                             days=days, events_per_file=events_per_file,
                                             digest_hours=digest_hours, failures=failures,
                                             accounts=accounts)
        _echo(f"{result.distinct_events:,} events ({result.duplicate_deliveries:,} "
                   f"delivered twice) in {result.delivery_files:,} delivery files, "
                   f"{result.start:%Y-%m-%d} to {result.end:%Y-%m-%d}")
        if len(result.accounts) > 1:
            _echo(f"  accounts: {', '.join(result.accounts)}")
        _echo(f"  logs: {result.cloudtrail_dir}")
        _echo(f"  IAM:  {result.iam_path}")
        _echo(f"  ECS:  {result.ecs_path}")
        _echo(f"  trail: {result.trail_path}")
        if result.public_keys_path:
            _echo(f"  public keys: {result.public_keys_path}")
        if result.last_accessed_path:
            _echo(f"  IAM last accessed: {result.last_accessed_path}")
        if result.stopped_tasks_path:
            _echo(f"  stopped tasks: {result.stopped_tasks_path}")
        return EXIT_OK

    _run(action)


# Commands kept in modules of their own, so that this one stays the command group and the
# commands of the pipeline's main path.
main.add_command(ingest)
main.add_command(inventory)
main.add_command(new_role)
main.add_command(explain)
