"""Options shared by several commands, named and meaning what they mean in the AWS CLI:
``--profile``, ``--region`` (the region of the API calls) and ``--endpoint-url`` on every command
that calls AWS, ``--output json|table|text`` (``--json`` is ``--output json``) on every command
that prints a result, and the region flags of 0.1, kept for one release with a warning.

The AWS CLI's options: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-options.html
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from rightsizer.cli_output import _say_warning

__all__ = ["OUTPUTS", "REGION_CHANGED_IN", "athena_options", "athena_query_options",
           "aws_options", "deprecated_option", "load_cli_settings", "output_options"]

# The release in which `ingest --region` and `athena setup --region` stopped naming the logs'
# regions and began naming the API region (README, "Migration notes"); the deprecated flags go
# one release later.
REGION_CHANGED_IN = "0.2.0"
_REMOVED_IN = "0.3.0"

OUTPUTS = ("table", "json", "text")


def _one_region(_ctx: click.Context, _param: click.Parameter,
                values: tuple[str, ...]) -> str | None:
    """``--region`` names one region. Before 0.2.0 ``ingest --region`` and ``athena setup
    --region`` were repeated to choose the logs' regions: such a call is stopped, not
    reinterpreted."""
    chosen = tuple(dict.fromkeys(values))
    if len(chosen) > 1:
        raise click.BadParameter(
            f"the region of the AWS API calls is one region, not {', '.join(chosen)}. To read "
            "only some regions' logs, give --log-region for each (--region named them before "
            f"{REGION_CHANGED_IN})")
    return chosen[0] if chosen else None


def aws_options(reads: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--profile``, ``--region`` and ``--endpoint-url`` for a command whose AWS calls are
    ``reads`` ("live reads and s3:// logs", ...). Without them boto3 decides as the AWS CLI
    does: AWS_PROFILE, AWS_REGION / AWS_DEFAULT_REGION, then the profile's own region."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed((
                click.option("--profile", help=f"AWS profile for {reads} (default: "
                                               "AWS_PROFILE, else the default profile)."),
                click.option("--region", multiple=True, callback=_one_region,
                             metavar="REGION",
                             help="AWS region of the API calls (default: AWS_REGION, "
                                  "AWS_DEFAULT_REGION, else the profile's region)."),
                click.option("--endpoint-url", metavar="URL",
                             help=f"Endpoint for {reads}: a VPC endpoint, a proxy, moto."))):
            command = option(command)
        return command

    return decorate


def deprecated_option(flag: str, replacement: str, *names: str, **kwargs: Any
                      ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A 0.1 flag that still works until ``_REMOVED_IN``, hidden from ``--help``, with a
    warning that names what replaces it."""

    def warn(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value not in (None, ()):
            _say_warning(f"{flag} is deprecated and goes in {_REMOVED_IN}: use {replacement}")
        return value

    return click.option(flag, *names, callback=warn, hidden=True,
                        help=f"Deprecated: {replacement}.", **kwargs)


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--output json|table|text`` and its short form ``--json``; the command receives
    ``output``, one of ``OUTPUTS``. ``table`` (the default) is the layout for a person; ``text``
    is the JSON object as the AWS CLI's text output prints it, for grep and awk."""

    @functools.wraps(command)
    def with_output(*args: Any, output: str | None, as_json: bool, **kwargs: Any) -> Any:
        if as_json and output not in (None, "json"):
            raise click.UsageError(f"--json is --output json: give --json or --output "
                                   f"{output}, not both")
        return command(*args, output="json" if as_json else output or "table", **kwargs)

    with_output = click.option("--json", "as_json", is_flag=True,
                               help="Print one JSON object on stdout (--output json).")(
        with_output)
    return click.option("--output", type=click.Choice(OUTPUTS),
                        help="table (default: for a person), json (one object), or text (tab "
                             "separated, as the AWS CLI prints it).")(with_output)


def athena_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Where Athena queries run: the same flags on every command that runs them (the region is
    --region's; the 0.1 --athena-region still sets Athena's alone)."""
    for option in reversed((
            click.option("--workgroup", help="Athena workgroup (default: primary)."),
            click.option("--output-location",
                         help="S3 location of Athena's results (default: the workgroup's)."),
            deprecated_option("--athena-region", "--region, or [athena] region in the "
                                                 "configuration"))):
        command = option(command)
    return command


def athena_query_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What the usage queries bring home and how many run at once (ingest, run)."""
    command = click.option("--athena-concurrency", type=click.IntRange(1, 20),
                           help="Athena queries in flight, one per account (default 4).")(command)
    return click.option("--principal", "principals", multiple=True,
                        help="A role ARN to bring home from Athena besides the roles ECS was "
                             "seen assuming (repeatable).")(command)


def load_cli_settings(config: Path | None, given: dict[str, object]) -> Any:
    """The layered settings: defaults < ``config`` (or $RIGHTSIZER_CONFIG) < RIGHTSIZER_*
    environment < the flags given (dotted setting names; click's datetimes become days)."""
    from rightsizer.settings import load_settings

    flags = {k: v.date() if isinstance(v, datetime) else v for k, v in given.items()}
    return load_settings(config, env=os.environ, flags=flags)


def member_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The accounts of a run: Athena's partitions, and the member accounts read live."""
    for option in reversed((
        click.option("--account", "accounts", multiple=True, metavar="ID",
                     help="An account of this run (repeatable): the partitions Athena reads, "
                          "and with --assume-role a member account whose IAM and ECS are read "
                          "live."),
        click.option("--organization/--no-organization", default=None,
                     help="With --assume-role: every active account of the organization "
                          "(organizations:ListAccounts)."),
        click.option("--assume-role", metavar="ROLE_NAME",
                     help="The read-only role assumed in each member account to read its IAM "
                          "and ECS live (deploy/cloudformation/member-stackset.yaml)."),
    )):
        command = option(command)
    return command
