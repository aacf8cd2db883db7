"""AWS timestamps as text (``2026-10-01T12:00:00Z``, ``...+00:00``) read as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_utc"]


def parse_utc(value: Any) -> datetime | None:
    """``value`` (ISO 8601 text, ``Z`` or an offset; naive read as UTC) in UTC; None when it is
    empty or not a timestamp."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
