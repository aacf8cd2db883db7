"""Fast, cached UTC formatting of integer epoch seconds in the styles AWS uses."""

from __future__ import annotations

import time

_SECONDS = tuple(f"{s:02d}Z" for s in range(60))
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Clock:
    """Formats epoch seconds; caches per minute because millions of records share few minutes."""

    def __init__(self) -> None:
        self._minute: dict[int, str] = {}

    def iso(self, sec: int) -> str:
        """CloudTrail eventTime: `2026-10-01T12:34:56Z`."""
        minute, s = divmod(sec, 60)
        prefix = self._minute.get(minute)
        if prefix is None:
            prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
            self._minute[minute] = prefix
        return prefix + _SECONDS[s]


def iso(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def cli(sec: int) -> str:
    """Timestamps as AWS CLI v2 prints them in IAM and ECS output: `2025-03-04T05:06:07+00:00`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(sec))


def cli_millis(sec: int, millis: int) -> str:
    """ECS `registeredAt`: `2025-03-04T05:06:07.123000+00:00`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{millis:03d}000+00:00"


def expiration(sec: int) -> str:
    """STS credential expiry as CloudTrail prints it: `Nov 1, 2026, 6:00:00 AM`."""
    t = time.gmtime(sec)
    hour12 = t.tm_hour % 12 or 12
    half = "AM" if t.tm_hour < 12 else "PM"
    month = _MONTHS[t.tm_mon - 1]
    return f"{month} {t.tm_mday}, {t.tm_year}, {hour12}:{t.tm_min:02d}:{t.tm_sec:02d} {half}"


def path_date(sec: int) -> str:
    """`YYYY/MM/DD` of a delivery time, as in the S3 key."""
    return time.strftime("%Y/%m/%d", time.gmtime(sec))


def stamp_minute(sec: int) -> str:
    """`YYYYMMDDTHHmmZ` in delivery file names."""
    return time.strftime("%Y%m%dT%H%MZ", time.gmtime(sec))


def stamp_second(sec: int) -> str:
    """`YYYYMMDDTHHmmssZ` in digest file names."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(sec))
