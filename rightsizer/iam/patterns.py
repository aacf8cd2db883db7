"""IAM wildcard patterns: ``*`` matches any run of characters, ``?`` exactly one.

Action names match case-insensitively, resource ARNs case-sensitively (IAM User Guide, "IAM JSON
policy elements: Action" and "...: Resource";). Compiled patterns are cached:
the same few hundred patterns are matched against every event of a role.

Beyond matching, the algebra of patterns: whether one is within another (``pattern_within``) and
whether two share a string (``patterns_intersect``), on which a proposal's generalized and
clamped resources rest (``rightsizer.proposal.generalize``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "compile_pattern",
    "has_wildcard",
    "literal_head",
    "matches",
    "pattern_within",
    "patterns_intersect",
    "sample_match",
]


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


# -------------------------------------------------------------------------------------------
# pattern_within and patterns_intersect: the algebra of patterns (is one within another, do two
# share a string), on which generalizing and clamping a proposal's resources rest.


def pattern_within(inner: str, outer: str) -> bool:
    """Whether every string the IAM wildcard pattern ``inner`` matches is matched by ``outer``.

    Case-sensitive (resource ARNs). ``*`` matches any run of characters, ``?`` exactly one.

    Two checks, either of which may answer True; anything else is False:

    1. Simulation (dynamic programming over positions ``(i, j)`` of ``inner`` and ``outer``):
       each token of ``inner`` is assigned, left to right, to a token of ``outer``. An outer
       ``*`` may absorb any number of consecutive inner tokens (``*`` included) or none; an
       outer ``?`` absorbs exactly one inner ``?`` or literal; an outer literal absorbs exactly
       one equal inner literal. An inner ``*`` can only go to an outer ``*``.
       *Soundness*: take any ``s`` that ``inner`` matches and split it into the pieces its tokens
       matched. Give each outer token the concatenation of the pieces of the inner tokens
       assigned to it: an outer ``*`` accepts any concatenation; an outer ``?`` or literal gets
       exactly one piece of one character, which it accepts by the rules above (a literal only
       receives its own character). The outer tokens are used in order, each once, so their
       pieces concatenate to ``s``: ``outer`` matches ``s``.
    2. When the simulation fails, an exact search for a counterexample. Let ``A`` be the
       characters written literally in either pattern plus one character ``z`` in neither.
       Replacing every character of a string outside ``A`` by ``z`` changes neither pattern's
       verdict (wildcards accept any character, literals compare only with themselves), so a
       counterexample exists iff one exists over ``A``. The search walks inner's automaton
       paired with the subset automaton of outer over ``A``; it answers True only after
       visiting every reachable pair without finding one where inner accepts and outer does
       not. If the pairs exceed a budget it gives up and answers False (sound, not complete).

    Runs of wildcards are first rewritten to ``?``s followed by one ``*`` (same language), and
    exact strings reduce to ``matches(outer, inner)``: directly, not through the cache of the
    rest, which a proposal would otherwise fill with a pair per S3 key, never asked again.
    """
    if not has_wildcard(inner):
        return matches(outer, inner, ignore_case=False)
    return _within(inner, outer)


_SEARCH_BUDGET = 20_000  # product states; ARN patterns need a few hundred at most


@lru_cache(maxsize=65536)
def _within(inner: str, outer: str) -> bool:
    if inner == outer or outer == "*":
        return True
    if not has_wildcard(outer):
        # A wildcard matches more than one string (any character fits ``?``); a literal one.
        return False
    inner, outer = _canonical(inner), _canonical(outer)
    if inner == outer:
        return True
    # Cheap refutation: both patterns' literal heads (tails) must agree where they overlap, or
    # no string of inner matches outer. This rejects almost every unrelated pair of ARNs.
    if not _agree(literal_head(inner), literal_head(outer)):
        return False
    if not _agree(literal_head(inner[::-1]), literal_head(outer[::-1])):
        return False
    return _simulates(inner, outer) or _no_counterexample(inner, outer)


_WILD_RUN = re.compile(r"[*?]*\*[*?]*")


def _canonical(pattern: str) -> str:
    """Each run of wildcards holding a ``*`` becomes its ``?``s then one ``*``: ``*?*`` matches
    what ``?*`` matches. One spelling per language helps the simulation."""
    return _WILD_RUN.sub(lambda m: "?" * m.group().count("?") + "*", pattern)


def literal_head(pattern: str) -> str:
    cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=-1)
    return pattern if cut < 0 else pattern[:cut]


def _agree(a: str, b: str) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _simulates(inner: str, outer: str) -> bool:
    """Check 1 of ``pattern_within``: can ``(len(inner), len(outer))`` be reached?"""
    n, m = len(inner), len(outer)
    seen = {(0, 0)}
    stack = [(0, 0)]
    while stack:
        i, j = stack.pop()
        if i == n and j == m:
            return True
        moves: list[tuple[int, int]] = []
        if j < m and outer[j] == "*":
            moves.append((i, j + 1))  # the outer star takes nothing more
            if i < n:
                moves.append((i + 1, j))  # the outer star absorbs inner token i
        elif i < n and j < m and inner[i] != "*" and outer[j] in ("?", inner[i]):
            moves.append((i + 1, j + 1))  # one character for one character
        for move in moves:
            if move not in seen:
                seen.add(move)
                stack.append(move)
    return False


def _closure(pattern: str, states: Iterable[int]) -> frozenset[int]:
    """Glob automaton states after epsilon moves: a ``*`` may match nothing."""
    out = set(states)
    todo = list(out)
    while todo:
        j = todo.pop()
        if j < len(pattern) and pattern[j] == "*" and j + 1 not in out:
            out.add(j + 1)
            todo.append(j + 1)
    return frozenset(out)


def _step(pattern: str, states: frozenset[int], char: str) -> frozenset[int]:
    nxt = []
    for j in states:
        if j < len(pattern):
            token = pattern[j]
            if token == "*":
                nxt.append(j)
            elif token == "?" or token == char:
                nxt.append(j + 1)
    return _closure(pattern, nxt)


def _no_counterexample(inner: str, outer: str) -> bool:
    """Check 2 of ``pattern_within``: exhaustive search for a string inner matches and outer
    does not, over the literals of both plus one fresh character."""
    literals = sorted(set(inner + outer) - {"*", "?"})
    fresh = next(chr(c) for c in range(0x100000) if chr(c) not in literals)
    alphabet = [*literals, fresh]
    n, m = len(inner), len(outer)
    start = (0, _closure(outer, [0]))
    seen = {start}
    todo = [start]
    while todo:
        i, states = todo.pop()
        if not states or (i == n and m not in states):
            # Outer is dead (any completion of inner is a counterexample) or rejects here.
            return False
        successors: list[tuple[int, frozenset[int]]] = []
        if i < n:
            token = inner[i]
            if token == "*":
                successors.append((i + 1, states))  # inner's star matches nothing more
                successors.extend((i, _step(outer, states, c)) for c in alphabet)
            else:
                chars = alphabet if token == "?" else [token]
                successors.extend((i + 1, _step(outer, states, c)) for c in chars)
        for successor in successors:
            if successor not in seen:
                if len(seen) >= _SEARCH_BUDGET:
                    return False  # give up: False is always a safe answer
                seen.add(successor)
                todo.append(successor)
    return True


def patterns_intersect(a: str, b: str) -> bool:
    """Whether some string is matched by both IAM wildcard patterns (case-sensitive): does a
    statement on ``a`` grant anything IAM could authorize against ``b``? Dynamic programming
    over the positions of both; a ``*`` in either may absorb the other's next token."""
    a, b = _canonical(a), _canonical(b)
    return _intersect(a, b, 0, 0, {})


def _intersect(a: str, b: str, i: int, j: int, memo: dict[tuple[int, int], bool]) -> bool:
    key = (i, j)
    if key in memo:
        return memo[key]
    memo[key] = False  # a cycle never adds a match
    if i == len(a) and j == len(b):
        found = True
    elif i < len(a) and a[i] == "*":
        found = _intersect(a, b, i + 1, j, memo) or (j < len(b) and _intersect(a, b, i, j + 1,
                                                                               memo))
    elif j < len(b) and b[j] == "*":
        found = _intersect(a, b, i, j + 1, memo) or (i < len(a) and _intersect(a, b, i + 1, j,
                                                                               memo))
    elif i < len(a) and j < len(b) and (a[i] == "?" or b[j] == "?" or a[i] == b[j]):
        found = _intersect(a, b, i + 1, j + 1, memo)
    else:
        found = False
    memo[key] = found
    return found
