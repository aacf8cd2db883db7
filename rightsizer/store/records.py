"""Typed records the store hands out. Plain frozen data: the layers above never see a connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EcsAssumption:
    """ECS assumed this role for tasks: how often, in how many task sessions, and when."""

    role_arn: str
    assumptions: int
    sessions: int
    first_seen: datetime
    last_seen: datetime
