"""``explain``: why ECS roles' calls were refused and their tasks stopped, and the smallest fix
(``analysis.explain`` diagnoses; this module gathers the evidence: the store's refused calls
and ECS's failed AssumeRole calls, the inventory, and stopped tasks from a file or ECS)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rightsizer.analysis.explain import (
    Failure,
    StoppedTask,
    attempts_from_assume_failures,
    attempts_from_stopped_tasks,
    attempts_from_usage,
    explain,
    succeeded_calls,
)
from rightsizer.analysis.inventory import Problem, build_inventory
from rightsizer.pipeline.inputs import require_inputs
from rightsizer.pipeline.inventory import LIVE, assumed_roles, inventory_inputs
from rightsizer.sources.aws import AwsOptions
from rightsizer.store.database import Store

__all__ = ["ExplainResult", "explain_failures", "stopped_task"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExplainResult:
    failures: tuple[Failure, ...]
    problems: tuple[Problem, ...]  # inputs that could not be read
    sources: tuple[str, ...]
    since: datetime | None
    until: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "failures": [f.as_json() for f in self.failures],
            "problems": [p.as_json() for p in self.problems],
            "sources": list(self.sources),
            "window": {"since": self.since.isoformat() if self.since else None,
                       "until": self.until.isoformat() if self.until else None},
        }


def explain_failures(*, iam: str | Path, ecs: str | Path, db: str | Path | None = None,
                     tasks: str | Path | None = None, since: datetime | None = None,
                     until: datetime | None = None, aws: AwsOptions | None = None,
                     clusters: Sequence[str] = ()) -> ExplainResult:
    """Every failure the evidence shows for the account's ECS roles, diagnosed.

    ``db``: the store whose refused calls and failed AssumeRole calls to read, in
    ``[since, until)`` (none, or a store not made yet: the inventory and the stopped tasks
    only). ``tasks``: a file or folder of ``describe-tasks`` output, or ``"aws"`` for the
    stopped tasks of ``clusters`` (default all) in ``aws``'s region."""
    from rightsizer.sources import ecs_tasks

    if tasks is not None:
        require_inputs([("--tasks", tasks)])
    authorization, task_definitions = inventory_inputs(iam, ecs, aws)
    inventory = build_inventory(authorization, task_definitions, assumed_roles(db))
    problems = list(inventory.problems)
    sources = list(inventory.sources)
    attempts = []
    succeeded: set[tuple[str, str]] = set()
    if db is not None and Path(db).exists():
        with Store(db, read_only=True) as store:
            usage = store.usage(since, until)
            attempts += attempts_from_usage(usage)
            succeeded = succeeded_calls(usage)
            attempts += attempts_from_assume_failures(store.assume_role_failures(since, until))
            succeeded |= {(a.role_arn, "sts:AssumeRole")
                          for a in store.ecs_assumed_roles(since, until)}
        sources.append(f"store {db}")
    elif db is not None:
        log.warning("%s does not exist: no CloudTrail evidence of refused calls", db)
    if tasks is not None:
        raw = (ecs_tasks.fetch_stopped_tasks(aws or AwsOptions(), clusters)
               if str(tasks) == LIVE else ecs_tasks.load_stopped_tasks(Path(tasks)))
        problems += [Problem(p.uri, p.reason) for p in raw.problems]
        sources.append(raw.source)
        attempts += attempts_from_stopped_tasks(
            (stopped_task(t) for t in raw.tasks), inventory.task_definitions)
    return ExplainResult(failures=explain(attempts, inventory, succeeded),
                         problems=tuple(problems),
                         sources=tuple(sources), since=since, until=until)


def stopped_task(task: Mapping[str, Any]) -> StoppedTask:
    """The parts of a ``describe-tasks`` task object that say why it stopped."""
    arn = str(task["taskArn"])
    parts = arn.split(":")
    reasons = [str(task["stoppedReason"])] if task.get("stoppedReason") else []
    for container in task.get("containers") or ():
        if isinstance(container, Mapping) and container.get("reason"):
            reasons.append(str(container["reason"]))
    return StoppedTask(task_arn=arn, task_definition_arn=str(task["taskDefinitionArn"]),
                       region=parts[3] if len(parts) > 3 else "",
                       account=parts[4] if len(parts) > 4 else "",
                       reasons=tuple(reasons), stopped_at=_moment(task.get("stoppedAt")))


def _moment(value: Any) -> datetime | None:
    """``stoppedAt`` as boto3 gives it (a datetime), or as the CLI prints it (ISO 8601 text, or
    epoch seconds)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None
