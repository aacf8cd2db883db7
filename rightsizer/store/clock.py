"""Times as the store keeps them: naive UTC TIMESTAMPs."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["naive_utc", "now"]


def naive_utc(moment: datetime | None) -> datetime | None:
    """Event times are stored as naive UTC TIMESTAMPs; compare aware datetimes in UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
