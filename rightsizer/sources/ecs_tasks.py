"""Stopped ECS tasks, raw: from ``aws ecs describe-tasks`` output or live from ECS.

Why: a task that stopped before it ran says why in ``stoppedReason`` and each container's
``reason`` (``CannotPullContainerError``, ``ResourceInitializationError``, ...); ``explain``
reads those. This module only finds the task objects and keeps them as ECS returned them.

Inputs:
- a file of ``aws ecs describe-tasks`` output (``{"tasks": [...], "failures": [...]}``), a JSON
  list of such outputs or of task objects, or several outputs one after another; a folder of
  such files (every ``*.json`` below it);
- the live API: every cluster of the region (``ListClusters``) or the ones named, the tasks
  ECS still lists as STOPPED (``ListTasks`` with ``desiredStatus`` STOPPED; ECS keeps a stopped
  task visible for at least an hour, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html),
  described 100 at a time (``DescribeTasks`` takes at most 100 tasks,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html).

Errors: a file that cannot be read raises ``SourceError``; an entry that is not a task is a
``BadInput`` and the rest is returned; an AWS error on a listing raises ``SourceError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources.aws import AwsOptions, make_aws_client, source_error
from rightsizer.sources.ecs import json_files
from rightsizer.sources.iam import json_documents
from rightsizer.sources.locate import BadInput

__all__ = ["StoppedTasks", "fetch_stopped_tasks", "load_stopped_tasks"]

_WHAT = 'aws ecs describe-tasks output ({"tasks": [...]})'
_DESCRIBE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class StoppedTasks:
    tasks: tuple[Mapping[str, Any], ...]  # task objects with a taskArn, sorted by it
    source: str
    problems: tuple[BadInput, ...]


def load_stopped_tasks(path: Path) -> StoppedTasks:
    path = Path(path)
    found: dict[str, Mapping[str, Any]] = {}
    problems: list[BadInput] = []
    files = sorted(json_files(path)) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise SourceError(f"{path}: no .json files in this folder: expected {_WHAT}")
    for file in files:
        try:
            documents = json_documents(file, _WHAT)
        except SourceError as exc:
            if not path.is_dir():
                raise
            problems.append(BadInput(str(file), str(exc).removeprefix(f"{file}: ")))
            continue
        for number, document in enumerate(documents):
            where = str(file) if len(documents) == 1 else f"{file} document {number + 1}"
            _collect(document, where, found, problems)
    return StoppedTasks(tuple(found[arn] for arn in sorted(found)),
                        f"{'folder' if path.is_dir() else 'file'} {path}", tuple(problems))


def _collect(value: Any, where: str, found: dict[str, Mapping[str, Any]],
             problems: list[BadInput]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _collect(item, f"{where}[{index}]", found, problems)
        return
    if isinstance(value, Mapping) and isinstance(value.get("tasks"), list):
        for index, item in enumerate(value["tasks"]):
            _collect(item, f"{where} tasks[{index}]", found, problems)
        return
    if not isinstance(value, Mapping) or not isinstance(value.get("taskArn"), str):
        problems.append(BadInput(where, f"not a task: expected {_WHAT}"))
        return
    if not isinstance(value.get("taskDefinitionArn"), str):
        problems.append(BadInput(where, f"{value['taskArn']}: no taskDefinitionArn"))
        return
    found.setdefault(value["taskArn"], value)


def fetch_stopped_tasks(options: AwsOptions, clusters: Sequence[str] = ()) -> StoppedTasks:
    """The stopped tasks ECS still lists in the options' region."""
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        client = make_aws_client("ecs", options)
    except NoRegionError as exc:
        raise ConfigError("ECS: no AWS region; set one with --region, AWS_REGION or the "
                          "profile") from exc
    found: dict[str, Mapping[str, Any]] = {}
    try:
        names = list(clusters) or [arn for page in client.get_paginator("list_clusters")
                                   .paginate() for arn in page.get("clusterArns", [])]
        for cluster in names:
            arns = [arn for page in client.get_paginator("list_tasks").paginate(
                        cluster=cluster, desiredStatus="STOPPED")
                    for arn in page.get("taskArns", [])]
            for start in range(0, len(arns), _DESCRIBE_LIMIT):
                response = client.describe_tasks(cluster=cluster,
                                                 tasks=arns[start:start + _DESCRIBE_LIMIT])
                for task in response.get("tasks", []):
                    found.setdefault(task["taskArn"], task)
    except (BotoCoreError, ClientError) as exc:
        raise source_error("ECS stopped tasks", exc, options) from exc
    region = client.meta.region_name
    return StoppedTasks(tuple(found[arn] for arn in sorted(found)),
                        f"aws ecs {region} ({', '.join(names) or 'no cluster'})", ())
