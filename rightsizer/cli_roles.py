"""``rightsizer new-role``: argument handling and printing for the library's ``new_roles``
(cli.py registers it; it holds only what the command adds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import rightsizer
from rightsizer.cli_output import EXIT_DATA, EXIT_OK, _echo, _print_json, _run, _say_error

__all__ = ["new_role"]


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def new_role(ecs_source: str, families: tuple[str, ...], out: Path, tags: tuple[str, ...],
             kms_keys: tuple[str, ...], account: str | None, region: str | None,
             profile: str | None, endpoint_url: str | None, as_json: bool) -> None:
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
        if as_json:
            _print_json(result.as_json())
        else:
            _print_roles(result)
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
