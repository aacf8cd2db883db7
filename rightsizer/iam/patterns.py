"""IAM wildcard patterns: ``*`` matches any run of characters, ``?`` exactly one.

Action names match case-insensitively, resource ARNs case-sensitively (IAM User Guide, "IAM JSON
policy elements: Action" and "...: Resource";). Compiled patterns are cached:
the same few hundred patterns are matched against every event of a role.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["compile_pattern", "has_wildcard", "matches", "sample_match"]


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


@lru_cache(maxsize=65536)
def compile_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """The anchored regular expression equivalent to one IAM wildcard pattern."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """Whether ``value`` matches the IAM wildcard ``pattern`` as a whole."""
    if not has_wildcard(pattern):
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return compile_pattern(pattern, ignore_case).fullmatch(value) is not None


def sample_match(pattern: str, fill: str) -> str:
    """A value the IAM pattern matches: each ``?`` an ``x``, each ``*`` ``fill`` (a fresh task
    id, say: a resource no one wrote a grant for by name)."""
    return pattern.replace("?", "x").replace("*", fill)
