"""``rightsizer new-role`` and ``rightsizer explain``: argument handling and printing for the
library's ``new_roles`` and ``explain_failures`` (cli.py registers them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

import rightsizer
from rightsizer.cli_options import aws_options, output_options
from rightsizer.cli_output import EXIT_DATA, EXIT_OK, _echo, _print, _run, _say_error

__all__ = ["explain", "new_role"]


@click.command("new-role")
@click.option("--ecs", "ecs_source", required=True, metavar="FILE|aws",
              help="Task definitions: a file, a folder, or 'aws' to read them from ECS. Files "
                   "may hold task definitions not registered yet (with --account and --region).")
@click.option("--family", "families", multiple=True,
              help="A task definition family to make roles for (repeatable; default: all).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: OUT/<family>/execution|task/ with the four forms.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="A tag on every role and policy (repeatable), e.g. Project=shop.")
@click.option("--kms-key", "kms_keys", multiple=True, metavar="KEY_ARN",
              help="A customer managed KMS key that encrypts the secrets (repeatable): "
                   "kms:Decrypt is granted on it through Secrets Manager and SSM only.")
@click.option("--account", help="Account of task definitions not registered yet.")
@click.option("--region", help="The API region with --ecs aws; else the region of task "
                               "definitions not registered yet.")
@click.option("--profile", help="AWS profile for --ecs aws.")
@click.option("--endpoint-url", help="ECS endpoint for --ecs aws.")
@output_options
def new_role(ecs_source: str, families: tuple[str, ...], out: Path, tags: tuple[str, ...],
             kms_keys: tuple[str, ...], account: str | None, region: str | None,
             profile: str | None, endpoint_url: str | None, output: str) -> None:
    """Least-privilege roles for a service that has never run, from its task definitions: the
    execution role and, where the containers need AWS, a task role skeleton, each as
    policy.json, trust.json, role.cfn.yaml, role.tf, commands.sh and console.md.

    Only what the task definitions declare is granted, scoped as they name it; what they leave
    open (the KMS key of a secret, the application's own calls) is listed, not guessed. Exit 4
    when a task definition could not be read; the others are still written."""

    def action() -> int:
        from rightsizer.pipeline import LIVE
        from rightsizer.sources.aws import AwsOptions

        live = ecs_source == LIVE
        options = AwsOptions(profile=profile, region=region if live else None,
                             endpoint_url=endpoint_url)
        result = rightsizer.new_roles(
            ecs_source, out, families=families, tags=tags, kms_keys=kms_keys,
            account=None if live else account, region=None if live else region, aws=options)
        _print(output, result.as_json, lambda: _print_roles(result))
        for problem in result.problems:
            _say_error(f"bad input: {problem.what}: {problem.reason}")
        return EXIT_DATA if result.problems else EXIT_OK

    _run(action)


def _print_roles(result: Any) -> None:
    if not result.roles:
        _echo("No task definition to make roles for.")
    for role, folder in zip(result.roles, result.folders, strict=True):
        actions = len(role.actions)
        _echo(f"{role.family} {role.kind}: {role.role_name}, {actions} "
              f"action{'s' if actions != 1 else ''} -> {folder}")
        for undecided in role.undecided:
            _echo(f"  undecided: {undecided.what}")
        for change in role.resource_changes:
            _echo(f"  on the resource's side: {change.what}")
        for note in role.notes:
            _echo(f"  note: {note}")


@click.command("explain")
@click.option("--db", default="rightsizer.duckdb", show_default=True,
              type=click.Path(dir_okay=False),
              help="The store whose refused calls and failed AssumeRole calls to read.")
@click.option("--iam", "iam_source", required=True, metavar="FILE|aws",
              help="IAM authorization details: a file, or 'aws' to read them live.")
@click.option("--ecs", "ecs_source", required=True, metavar="FILE|aws",
              help="Task definitions: a file, a folder, or 'aws'.")
@click.option("--tasks", "tasks_source", metavar="FILE|aws",
              help="Stopped tasks: aws ecs describe-tasks output, or 'aws' to list them.")
@click.option("--cluster", "clusters", multiple=True,
              help="With --tasks aws: a cluster to read (repeatable; default: all).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC).")
@aws_options("live reads")
@output_options
def explain(db: str, iam_source: str, ecs_source: str, tasks_source: str | None,
            clusters: tuple[str, ...], since: datetime | None, until: datetime | None,
            profile: str | None, region: str | None, endpoint_url: str | None,
            output: str) -> None:
    """Why ECS roles' calls were refused and tasks failed to start, and the smallest fix.

    Reads the store's refused calls and ECS's failed AssumeRole calls, the roles' policies, the
    task definitions and, with --tasks, stopped tasks. Each failure gets a cause (a stable code
    and a sentence), what refused it, and the statement to add or the change to make, checked
    with rightsizer's evaluator. A refused call nothing declares is shown as a bug or a probe,
    never granted. Exit 4 when some input could not be read."""

    def action() -> int:
        from rightsizer.sources.aws import AwsOptions

        result = rightsizer.explain_failures(
            iam=iam_source, ecs=ecs_source, db=db, tasks=tasks_source,
            since=since.replace(tzinfo=UTC) if since else None,
            until=until.replace(tzinfo=UTC) + timedelta(days=1) if until else None,
            aws=AwsOptions(profile=profile, region=region, endpoint_url=endpoint_url),
            clusters=clusters)
        _print(output, result.as_json, lambda: _print_failures(result))
        for problem in result.problems:
            _say_error(f"bad input: {problem.what}: {problem.reason}")
        return EXIT_DATA if result.problems else EXIT_OK

    _run(action)


def _print_failures(result: Any) -> None:
    if not result.failures:
        _echo("No failure found: no refused call, no failed AssumeRole, no stopped task to "
              "explain.")
    for failure in result.failures:
        what = failure.action or failure.cause.code
        seen = (f"{failure.count} time{'s' if failure.count != 1 else ''}" if failure.count
                else "predicted from the IAM data")
        _echo(f"{failure.role}: {what} on {failure.resource} ({failure.region or '-'}), "
              f"{seen}, {failure.source}")
        _echo(f"  cause: {failure.cause.code}: {failure.cause.sentence}")
        if failure.denied_by:
            _echo(f"  refused by: {'; '.join(failure.denied_by)}")
        if failure.fix is not None:
            checked = "checked" if failure.fix.verified else "not checked"
            _echo(f"  fix ({checked}): {failure.fix.change}")
            if failure.fix.statement:
                _echo("    " + json.dumps(dict(failure.fix.statement), sort_keys=False))
        else:
            _echo(f"  no fix: {failure.no_fix}")
