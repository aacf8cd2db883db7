"""ECS task definitions, raw: from `aws ecs describe-task-definition` output or live from ECS.

Why: a task definition names the two roles of a task and declares what the execution role must be
allowed before the container starts, which CloudTrail may never show
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html). This
module only finds the ``taskDefinition`` objects and keeps them as ECS returned them;
``rightsizer.iam.ecs`` reads what they mean.

Inputs:

- a file holding one ``aws ecs describe-task-definition`` output (``{"taskDefinition": {...},
  "tags": [...]}``), a JSON list of such outputs or of bare task definitions,
  ``{"taskDefinitions": [...]}`` (what the simulator writes, sample_logs/ecs/), or several of these
  written one after another (``aws ecs describe-task-definition ... >> file``);
- a folder of such files (every ``*.json`` below it, hidden files and folders skipped, sorted);
- the live API: every family, every revision that still exists. ``ListTaskDefinitions`` lists
  only ACTIVE revisions unless asked, so it is asked once per status: ACTIVE, INACTIVE (deregistered
  revisions keep running tasks and services, and their roles keep their grants) and
  DELETE_IN_PROGRESS (deleted but still referenced by a task or deployment). botocore's model
  accepts all three for ``status``; should an endpoint refuse DELETE_IN_PROGRESS as a filter, that
  status is skipped with a log line rather than failing the source. Each revision is then
  described, 8 at a time.

Errors: a source that cannot be used at all (a missing path, a file that is not JSON or holds no
task definition, an AWS error on the listing) raises ``SourceError``. One entry that is not a task
definition, one file of a folder that cannot be read, one revision whose describe fails: each is a
``BadInput`` naming it and why, and the rest is returned (exit code 4 after the run).
When one ARN comes twice (two files, or a revision listed under two statuses while it changed)
the first one read is kept.

Documentation relied on:

- Task definition states ACTIVE / INACTIVE / DELETE_IN_PROGRESS, and that DescribeTaskDefinition
  still answers for the last two:
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-definition-state.html
- ListTaskDefinitions ``status`` ("By default, only ACTIVE task definitions are listed"; keep the
  status constant while paginating):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTaskDefinitions.html
- DeleteTaskDefinitions (INACTIVE -> DELETE_IN_PROGRESS until nothing references the revision):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html
- Clients are thread-safe once created, so one client serves the describe threads:
  https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources.aws import AwsOptions, describe_aws_error, make_aws_client, source_error
from rightsizer.sources.iam import caller_account, json_documents
from rightsizer.sources.locate import BadInput

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["BadInput", "Placement", "TaskDefinitions", "fetch_task_definitions",
           "load_task_definitions"]

log = logging.getLogger(__name__)

STATUSES = ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS")
DESCRIBE_WORKERS = 8
_WHAT = 'aws ecs describe-task-definition output or {"taskDefinitions": [...]}'


@dataclass(frozen=True, slots=True)
class TaskDefinitions:
    """Raw ``taskDefinition`` objects, and the entries that could not be read."""

    task_definitions: tuple[Mapping[str, Any], ...]  # sorted by taskDefinitionArn
    source: str  # "file <path>", "folder <path>" or "aws account <id>/<profile> ecs <region>"
    problems: tuple[BadInput, ...]


class _NotTaskDefinitions(Exception):
    """A file whose top level is none of the accepted shapes."""


# --- files -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a task definition that is not registered yet (``register-task-definition`` input:
    a ``family`` and ``containerDefinitions``, no ARN) will live. Such a document is given the
    ARN it would have, with revision 0 and status ``UNREGISTERED``."""

    partition: str
    region: str
    account: str

    def arn(self, family: str) -> str:
        return f"arn:{self.partition}:ecs:{self.region}:{self.account}:task-definition/{family}:0"


def load_task_definitions(path: Path, placement: Placement | None = None) -> TaskDefinitions:
    """Task definitions from a file or a folder of files (see the module docstring); with
    ``placement``, also those not registered yet."""
    path = Path(path)
    found: dict[str, Mapping[str, Any]] = {}
    problems: list[BadInput] = []
    if path.is_dir():
        files = sorted(json_files(path))
        if not files:
            raise SourceError(f"{path}: no .json files in this folder: expected {_WHAT}")
        for file in files:
            try:
                _read_file(file, found, problems, placement)
            except SourceError as exc:
                problems.append(BadInput(str(file), _reason(exc, file)))
            except _NotTaskDefinitions as exc:
                problems.append(BadInput(str(file), str(exc)))
        source = f"folder {path}"
    else:
        try:
            _read_file(path, found, problems, placement)
        except _NotTaskDefinitions as exc:
            raise SourceError(f"{path}: {exc}") from None
        source = f"file {path}"
    return TaskDefinitions(
        task_definitions=tuple(found[arn] for arn in sorted(found)),
        source=source,
        problems=tuple(problems),
    )


def json_files(root: Path) -> Iterator[Path]:
    """Every ``*.json`` below ``root``, hidden files and folders skipped (shared with
    ``sources.ecs_tasks``)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith(".json") and not name.startswith("."):
                yield Path(dirpath) / name


def _reason(exc: SourceError, file: Path) -> str:
    return str(exc).removeprefix(f"{file}: ")


def _read_file(path: Path, found: dict[str, Mapping[str, Any]], problems: list[BadInput],
               placement: Placement | None = None) -> None:
    documents = json_documents(path, _WHAT)
    if len(documents) == 1 and not _is_known(documents[0]):
        raise _NotTaskDefinitions(
            f"no taskDefinition, taskDefinitions or taskDefinitionArn in it: expected {_WHAT}"
        )
    for number, document in enumerate(documents):
        where = f"{path}" if len(documents) == 1 else f"{path} document {number + 1}"
        if not _is_known(document):
            problems.append(BadInput(where, f"not a task definition: expected {_WHAT}"))
            continue
        _collect(document, where, found, problems, placement)


def _is_known(value: Any) -> bool:
    """A list (of outputs or task definitions), or an object of one of the accepted shapes."""
    if isinstance(value, list):
        return True
    return isinstance(value, Mapping) and (any(
        key in value for key in ("taskDefinition", "taskDefinitions", "taskDefinitionArn")
    ) or _unregistered(value))


def _unregistered(value: Any) -> bool:
    """``register-task-definition`` input: a family and containers, no ARN yet."""
    return (isinstance(value, Mapping) and "taskDefinitionArn" not in value
            and isinstance(value.get("family"), str) and "containerDefinitions" in value)


def _collect(
    value: Any, where: str, found: dict[str, Mapping[str, Any]], problems: list[BadInput],
    placement: Placement | None = None,
) -> None:
    """Walk the accepted shapes down to ``taskDefinition`` objects."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _collect(item, f"{where}[{index}]", found, problems, placement)
        return
    if not isinstance(value, Mapping):
        problems.append(BadInput(where, f"not a task definition ({type(value).__name__})"))
        return
    if "taskDefinitions" in value:
        inner = value["taskDefinitions"]
        if not isinstance(inner, list):
            problems.append(BadInput(f"{where} taskDefinitions", "is not a list"))
            return
        for index, item in enumerate(inner):
            _collect(item, f"{where} taskDefinitions[{index}]", found, problems, placement)
        return
    if "taskDefinition" in value:
        where, value = f"{where} taskDefinition", value["taskDefinition"]
    if _unregistered(value):
        if placement is None:
            problems.append(BadInput(where, "no taskDefinitionArn (a task definition not "
                                     "registered yet: new-role reads one with --account and "
                                     "--region)"))
            return
        value = {**value, "taskDefinitionArn": placement.arn(value["family"]), "revision": 0,
                 "status": "UNREGISTERED"}
    reason = _wrong_shape(value)
    if reason:
        problems.append(BadInput(where, reason))
        return
    found.setdefault(value["taskDefinitionArn"], value)


def _wrong_shape(value: Any) -> str | None:
    """Why this is not a ``taskDefinition`` object, or None. Only what identifies a revision is
    checked here; ``rightsizer.iam.ecs.parse_task_definition`` checks the rest."""
    if not isinstance(value, Mapping):
        return f"not a task definition ({type(value).__name__})"
    arn = value.get("taskDefinitionArn")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        return "no taskDefinitionArn"
    if not isinstance(value.get("containerDefinitions"), list):
        return f"{arn}: containerDefinitions is missing or not a list"
    return None


# --- live --------------------------------------------------------------------------------------


def fetch_task_definitions(options: AwsOptions) -> TaskDefinitions:
    """Every revision of every family in the options' region, through the ECS API.

    An AWS error on the listing raises ``SourceError`` naming ECS, no region at all a
    ``ConfigError``; a revision whose describe fails is a problem and the others are still
    returned."""
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        client = make_aws_client("ecs", options)
    except NoRegionError as exc:
        # ECS is regional and nothing said which region: the call must change (exit 2).
        raise ConfigError(
            "ECS: no AWS region; set one in the options, AWS_REGION or the profile"
        ) from exc
    arns: list[str] = []
    paginator = client.get_paginator("list_task_definitions")
    for status in STATUSES:
        try:
            for page in paginator.paginate(status=status):
                arns.extend(page.get("taskDefinitionArns", []))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if status == "DELETE_IN_PROGRESS" and code in {
                "InvalidParameterException",
                "ValidationException",
            }:
                log.info("ECS refused status %s as a filter: %s", status, describe_aws_error(exc))
                continue
            raise source_error("ECS", exc, options) from exc
        except BotoCoreError as exc:
            raise source_error("ECS", exc, options) from exc
    unique = sorted(set(arns))

    found: dict[str, Mapping[str, Any]] = {}
    problems: list[BadInput] = []
    with ThreadPoolExecutor(DESCRIBE_WORKERS, thread_name_prefix="ecs-describe") as pool:
        for arn, outcome in zip(
            unique, pool.map(lambda a: _describe(client, a), unique), strict=True
        ):
            if isinstance(outcome, str):
                problems.append(BadInput(arn, outcome))
                continue
            reason = _wrong_shape(outcome)
            if reason:
                problems.append(BadInput(arn, reason))
                continue
            found.setdefault(outcome["taskDefinitionArn"], outcome)

    region = client.meta.region_name
    account = _account(found) or caller_account(options) or "unknown"
    return TaskDefinitions(
        task_definitions=tuple(found[arn] for arn in sorted(found)),
        source=f"aws account {account}/{options.profile or 'default'} ecs {region}",
        problems=tuple(problems),
    )


def _describe(client: BaseClient, arn: str) -> Mapping[str, Any] | str:
    """The ``taskDefinition`` object, or the reason it could not be described."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.describe_task_definition(taskDefinition=arn)
    except (BotoCoreError, ClientError) as exc:
        return f"DescribeTaskDefinition failed: {describe_aws_error(exc)}"
    task_definition = response.get("taskDefinition")
    if not isinstance(task_definition, Mapping):
        return "DescribeTaskDefinition answered without a taskDefinition"
    return task_definition


def _account(found: Mapping[str, Mapping[str, Any]]) -> str | None:
    for arn in found:
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    return None


def merge_task_definitions(parts: Sequence[TaskDefinitions]) -> TaskDefinitions:
    """Task definitions read from several regions (or files) as one set, each ARN once."""
    found: dict[str, Mapping[str, Any]] = {}
    for part in parts:
        for td in part.task_definitions:
            found.setdefault(str(td.get("taskDefinitionArn", "")), td)
    return TaskDefinitions(
        task_definitions=tuple(found[arn] for arn in sorted(found)),
        source="; ".join(part.source for part in parts),
        problems=tuple(problem for part in parts for problem in part.problems),
    )
