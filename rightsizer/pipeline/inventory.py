"""Inventory: IAM and ECS (files or live) and the store's evidence of ECS assuming roles, into
the classified roles of the account."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rightsizer.pipeline.inputs import LIVE, require_inputs
from rightsizer.sources.accounts import MemberAccess, Members
from rightsizer.sources.aws import AwsOptions
from rightsizer.store.database import Store
from rightsizer.store.records import EcsAssumption

if TYPE_CHECKING:
    from rightsizer.analysis.inventory import Inventory

log = logging.getLogger(__name__)



def inventory(iam: str | Path, ecs: str | Path, db: str | Path | None = None, *,
              aws: AwsOptions | None = None, ecs_regions: Sequence[str] = (),
              members: Members | None = None) -> Inventory:
    """The roles of the account, which are ECS principals, what they need, and their findings.

    ``iam`` and ``ecs`` are files (or ``"aws"`` to read the account through boto3, with
    ``aws``'s profile, region and endpoint; ``ecs_regions`` lists the regions whose task
    definitions to read, default the client's region; ``members``: the member accounts to read,
    each through a role assumed there). ``db`` is the store whose events say
    which roles ECS was seen assuming; a store that does not exist yet adds no evidence. Inputs
    that could not be read are in ``Inventory.problems``; the rest is still inventoried.
    """
    from rightsizer.analysis.inventory import build_inventory

    access = member_access(iam, ecs, aws, members)
    authorization, task_definitions = inventory_inputs(iam, ecs, aws, ecs_regions, access)
    return build_inventory(authorization, task_definitions, assumed_roles(db))


def member_access(iam: str | Path, ecs: str | Path, aws: AwsOptions | None,
                  members: Members | None) -> MemberAccess | None:
    """The member accounts assumed once for the whole run, when IAM or ECS is read live from
    them (``--assume-role``); None otherwise."""
    if members is None or not members.read_live or LIVE not in (str(iam), str(ecs)):
        return None
    from rightsizer.sources.accounts import open_members

    return open_members(aws or AwsOptions(), members)


def inventory_inputs(iam: str | Path, ecs: str | Path, aws: AwsOptions | None,
                     ecs_regions: Sequence[str] = (),
                     access: MemberAccess | None = None) -> tuple[Any, Any]:
    """IAM's authorization details and the task definitions, from files or live: live, of the
    credentials' account, or with ``access`` of each member account (an account that could not
    be read is a problem of the IAM data; the others are read)."""
    require_inputs([("--iam", iam), ("--ecs", ecs)])
    from rightsizer.sources import ecs as ecs_source
    from rightsizer.sources import iam as iam_source
    from rightsizer.sources.accounts import (
        for_each_account,
        load_iam_input,
        merge_authorization_details,
    )
    from rightsizer.sources.locate import BadInput

    options = aws or AwsOptions()

    def task_definitions_of(_account: str, account_options: AwsOptions) -> Any:
        regions = list(dict.fromkeys(ecs_regions)) or [account_options.region]
        return ecs_source.merge_task_definitions([
            ecs_source.fetch_task_definitions(replace(account_options, region=region))
            for region in regions])

    failed: list[BadInput] = []
    if str(iam) == LIVE and access is not None:
        found, failed = for_each_account(
            access, lambda _account, o: iam_source.fetch_authorization_details(o))
        merged = merge_authorization_details([found[a] for a in sorted(found)],
                                             f"aws accounts {', '.join(sorted(found)) or 'none'}")
        authorization = replace(merged, problems=(*failed, *merged.problems))
    elif str(iam) == LIVE:
        authorization = iam_source.fetch_authorization_details(options)
    else:
        authorization = load_iam_input(Path(iam))
    if str(ecs) == LIVE and access is not None:
        found_ecs, failed_ecs = for_each_account(
            access, task_definitions_of,
            missing="the account's task definitions are not in this run: what its tasks "
                    "declare they need is not known")
        parts = [found_ecs[a] for a in sorted(found_ecs)]
        task_definitions = ecs_source.merge_task_definitions(parts)
        # An account IAM could not be read is named once, by the IAM data.
        named = {problem.uri for problem in failed}
        task_definitions = replace(task_definitions, problems=(
            *(p for p in failed_ecs if p.uri not in named), *task_definitions.problems))
    elif str(ecs) == LIVE:
        task_definitions = task_definitions_of("", options)
    else:
        task_definitions = ecs_source.load_task_definitions(Path(ecs))
    return authorization, task_definitions


def assumed_roles(db: str | Path | None) -> tuple[EcsAssumption, ...]:
    """The store's evidence of ECS assuming roles; none when there is no store yet."""
    if db is not None and Path(db).exists():
        with Store(db, read_only=True) as store:
            return store.ecs_assumed_roles()
    if db is not None:
        log.warning("%s does not exist: no CloudTrail evidence of ECS assuming roles", db)
    return ()
