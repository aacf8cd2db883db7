"""``new-role``: roles for services with no history, from their task definitions, written in the
four forms people apply IAM with (``proposal.new_role`` designs them, ``new_role_render``
writes the text; this module reads the inputs and writes the files).

Output, per role: ``OUT/<family>/<kind>/`` with ``policy.json``, ``trust.json``,
``role.cfn.yaml``, ``role.tf``, ``commands.sh`` and ``console.md``. Only those files are
written; nothing in ``OUT`` is deleted. A family whose name ECS would refuse is bad input (its
name becomes a folder), as is a task definition that cannot be read; the others are still
written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rightsizer import aws_names
from rightsizer.analysis.inventory import Problem
from rightsizer.errors import ConfigError
from rightsizer.iam.ecs import TaskDefinition, parse_task_definition
from rightsizer.iam.resources import partition_of
from rightsizer.pipeline.inputs import require_inputs
from rightsizer.pipeline.inventory import LIVE
from rightsizer.pipeline.write import write_text
from rightsizer.proposal.new_role import NewRole, design_new_roles, parse_tags, prove_new_role
from rightsizer.sources.aws import AwsOptions
from rightsizer.text import shown

__all__ = ["NewRoleResult", "new_roles"]

log = logging.getLogger(__name__)

FILES = ("policy.json", "trust.json", "role.cfn.yaml", "role.tf", "commands.sh", "console.md")


@dataclass(frozen=True, slots=True)
class NewRoleResult:
    out: Path
    roles: tuple[NewRole, ...]
    folders: tuple[Path, ...]  # one per role, in the same order
    problems: tuple[Problem, ...]  # inputs that could not be used
    source: str

    def as_json(self) -> dict[str, Any]:
        return {
            "roles": [{**role.as_json(), "path": str(folder)}
                      for role, folder in zip(self.roles, self.folders, strict=True)],
            "problems": [p.as_json() for p in self.problems],
            "source": self.source,
        }


def new_roles(ecs: str | Path, out: str | Path, *, families: Sequence[str] = (),
              tags: Sequence[str] = (), kms_keys: Sequence[str] = (),
              account: str | None = None, region: str | None = None,
              aws: AwsOptions | None = None) -> NewRoleResult:
    """Design, prove and write the roles of ``families`` (all when empty) of the task
    definitions in ``ecs`` (a file, a folder, or ``"aws"`` to read them live).

    ``account`` and ``region`` (both or neither) place task definitions that are not
    registered yet (``register-task-definition`` input); ``tags`` are ``KEY=VALUE`` strings put
    on every role and policy; ``kms_keys`` the customer managed keys of the secrets. Raises
    ConfigError for a tag, a key, a placement or a family that cannot be used, RuntimeError
    when a designed policy fails its own proof (a bug)."""
    from rightsizer.proposal.new_role_render import (
        render_commands,
        render_console,
        render_new_role_cloudformation,
        render_new_role_policy,
        render_new_role_terraform,
        render_trust,
    )
    from rightsizer.sources import ecs as ecs_source

    require_inputs([("--ecs", ecs)])
    try:
        parsed_tags = parse_tags(tags)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    out = Path(out)
    if str(ecs) == LIVE:
        raw = ecs_source.fetch_task_definitions(aws or AwsOptions())
    else:
        placement = None
        if account or region:
            if not (account and aws_names.ACCOUNT_ID.fullmatch(account)):
                raise ConfigError(f"account {shown(account)} is not a 12-digit AWS account id")
            if not (region and aws_names.REGION.fullmatch(region)):
                raise ConfigError(f"region {shown(region)} is not an AWS region name")
            placement = ecs_source.Placement(partition_of(region), region, account)
        raw = ecs_source.load_task_definitions(Path(ecs), placement)
    problems = [Problem(p.uri, p.reason) for p in raw.problems]
    task_definitions: list[TaskDefinition] = []
    for document in raw.task_definitions:
        label = str(document.get("taskDefinitionArn", "a task definition"))
        try:
            td = parse_task_definition(document)
        except ValueError as exc:
            problems.append(Problem(label, str(exc)))
            continue
        if not aws_names.TASK_FAMILY.fullmatch(td.family):
            problems.append(Problem(label, f"family {shown(td.family)} is not a task "
                                    "definition family (up to 255 letters, digits, _ and -)"))
            continue
        task_definitions.append(td)
    try:
        roles = design_new_roles(task_definitions, families=families, kms_keys=kms_keys,
                                 tags=parsed_tags)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    folders: list[Path] = []
    for role in roles:
        failures = prove_new_role(role)
        if failures:
            raise RuntimeError(f"the role designed for {role.family} ({role.kind}) fails its "
                               f"own proof: {'; '.join(failures)}")
        folder = out / role.family / role.kind
        folder.mkdir(parents=True, exist_ok=True)
        texts = {
            "policy.json": render_new_role_policy(role),
            "trust.json": render_trust(role),
            "role.cfn.yaml": render_new_role_cloudformation(role),
            "role.tf": render_new_role_terraform(role),
            "commands.sh": render_commands(role),
            "console.md": render_console(role),
        }
        for name, text in texts.items():
            write_text(folder / name, text)
        (folder / "commands.sh").chmod(0o755)
        folders.append(folder)
        log.info("%s: %s role %s written to %s", role.family, role.kind, role.role_name, folder)
    return NewRoleResult(out=out, roles=roles, folders=tuple(folders),
                         problems=tuple(problems), source=raw.source)
