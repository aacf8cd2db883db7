"""Inventory: IAM and ECS (files or live) and the store's evidence of ECS assuming roles, into
the classified roles of the account."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rightsizer.pipeline.inputs import LIVE, require_inputs
from rightsizer.sources.aws import AwsOptions
from rightsizer.store.database import Store
from rightsizer.store.records import EcsAssumption

if TYPE_CHECKING:
    from rightsizer.analysis.inventory import Inventory

log = logging.getLogger(__name__)



def inventory(iam: str | Path, ecs: str | Path, db: str | Path | None = None, *,
              aws: AwsOptions | None = None, ecs_regions: Sequence[str] = ()) -> Inventory:
    """The roles of the account, which are ECS principals, what they need, and their findings.

    ``iam`` and ``ecs`` are files (or ``"aws"`` to read the account through boto3, with
    ``aws``'s profile, region and endpoint; ``ecs_regions`` lists the regions whose task
    definitions to read, default the client's region). ``db`` is the store whose events say
    which roles ECS was seen assuming; a store that does not exist yet adds no evidence. Inputs
    that could not be read are in ``Inventory.problems``; the rest is still inventoried.
    """
    from rightsizer.analysis.inventory import build_inventory

    authorization, task_definitions = inventory_inputs(iam, ecs, aws, ecs_regions)
    return build_inventory(authorization, task_definitions, assumed_roles(db))


def inventory_inputs(iam: str | Path, ecs: str | Path, aws: AwsOptions | None,
                      ecs_regions: Sequence[str] = ()) -> tuple[Any, Any]:
    """IAM's authorization details and the task definitions, from files or live."""
    require_inputs([("--iam", iam), ("--ecs", ecs)])
    from rightsizer.sources import ecs as ecs_source
    from rightsizer.sources import iam as iam_source

    options = aws or AwsOptions()
    if str(iam) == LIVE:
        authorization = iam_source.fetch_authorization_details(options)
    else:
        authorization = iam_source.load_authorization_details(Path(iam))
    if str(ecs) == LIVE:
        regions = list(dict.fromkeys(ecs_regions)) or [options.region]
        fetched = [ecs_source.fetch_task_definitions(replace(options, region=region))
                   for region in regions]
        task_definitions = ecs_source.merge_task_definitions(fetched)
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
