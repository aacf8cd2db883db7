"""Untrusted text made safe to show a person: CloudTrail carries strings chosen by whoever made
the call (user agents, keys, error messages), and role or policy names come from many teams.

A terminal obeys the escape sequences in what it prints (``\\x1b[2J`` clears it), a line break
in a table cell forges a row, and Unicode's bidirectional controls reorder what a reader sees
(CVE-2021-42574, "Trojan Source"). Every human-facing output passes such text through
``escape_controls``; machine outputs (JSON) keep it exact, because their encoders escape it.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; the bidirectional embedding, override and isolate controls
# (U+202A..U+202E, U+2066..U+2069) and the zero-width and line/paragraph separators that
# change how a line reads or breaks.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``
    becomes ``\\x0a``): one line, that shows exactly what it holds and does nothing else.
    ``keep`` names controls to leave as they are (``"\\n"`` for text whose lines rightsizer
    itself composed, where every untrusted value was escaped whole before)."""
    if keep:
        return _CONTROLS.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _CONTROLS.sub(_escape, text)


def shown(value: object, limit: int = 80) -> str:
    """A value quoted for a message: controls escaped, cut at ``limit`` characters with the
    length said, so that a 60 MB string does not become a 60 MB message."""
    text = escape_controls(str(value))
    if len(text) > limit:
        return f"'{text[:limit]}...' ({len(str(value)):,} characters)"
    return f"'{text}'"


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 record``, ``2 records``, ``1,000 entries`` (``many`` for irregular plurals)."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"
