"""IAM condition operators, evaluated three-valued: True, False, or None when it cannot be known.

Why three values: rightsizer evaluates policies against what CloudTrail recorded, and a trail does
not carry most condition keys (``aws:SourceVpce``, ``aws:ResourceTag/...``, ``s3:prefix``). Calling
a condition False because its key was not recorded would shrink a grant the role really has, and
calling it True would keep one a Deny takes away. So a caller says whether its context is
``complete`` (a key that is missing is absent from the request) or not (a key that is missing might
have been there), and a condition that depends on a key it does not know comes out None.

Semantics follow the IAM User Guide:
- Operators, absent keys, ``...IfExists``, ``Null``:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  ("If the key that you specify in a policy condition is not present in the request context, the
  values do not match and the condition is false. If the policy condition requires that the key is
  not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition
  is true. This logic applies to all condition operators except ...IfExists and Null check.")
- Several operators AND, several keys AND, several values OR, negated operators NOR:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
- ``ForAllValues`` (true when every request value matches, and when the key is absent or empty) and
  ``ForAnyValue`` (true when one does; false when absent or empty):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  and the worked ``ForAllValues:StringNotLike`` table in
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html
  (each request value must match none of the policy values; an absent key matches).
- Key names are case-insensitive:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
- Policy variables ``${key}``, ``${key, 'default'}`` and the escapes ``${*}`` ``${?}`` ``${$}``:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

Choices where the documentation is silent or ambiguous (each one tested):
- A set qualifier ignores ``IfExists``: ``ForAnyValue:StringEqualsIfExists`` on an absent key is
  False, as observed on AWS (https://repost.aws/questions/QU9HFmDzP0QGuU-fd7rS6B7w and
  https://iam.cloudcopilot.io/resources/operators/ForAnyValue:StringNotEqualsIfExists: IfExists is
  applied per value, inside the loop, where every value exists).
- A key mapped to an empty tuple is known to be absent ("null dataset"), even in an incomplete
  context; only a key missing from the mapping is unknown.
- A plain (unqualified) operator given several request values holds when it holds for one of them.
- ``ArnEquals`` and ``ArnLike`` are the same operator, as the guide lists them: the six
  colon-separated fields are compared one by one, case-sensitively, ``*``/``?`` allowed in each
  and unable to cross a colon, except in the last field (resource ids contain colons). A policy
  value with fewer than six fields (``"*"``) is matched against the whole ARN.
- A policy value or request value that does not parse as its type (a number, a date, an address)
  matches nothing; a negated operator therefore holds for it.
- Variables are substituted only in String and ARN operators (the guide lists those). A variable
  whose key the request does not carry, or carries with several values (multivalued keys cannot be
  variables), makes that policy value match nothing when the context is complete and unknown when
  it is not; ``${key, 'default'}`` uses the default in the first case. Substituted text and the
  escapes are literal: a ``*`` that comes from a variable is not a wildcard.
- An operator this module does not know yields None (unknown) whatever the context.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from rightsizer.iam.policy import Condition

__all__ = [
    "Context",
    "Resolution",
    "Segment",
    "condition_keys",
    "evaluate_normalized",
    "is_known_operator",
    "normalize_context",
    "resolve_variables",
    "segments_regex",
    "unknown_keys",
    "variable_keys",
]

Context = Mapping[str, tuple[str, ...]]
# A policy value after variable substitution: runs of text, each flagged literal (from a variable
# or an escape: never a wildcard) or not (as written in the policy: ``*`` and ``?`` are wildcards).
Segment = tuple[str, bool]
Resolution = tuple[Segment, ...] | Literal["unknown", "absent"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = frozenset({"*", "?", "$"})
_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?")
_EPOCH_ZERO = datetime(1970, 1, 1, tzinfo=UTC)


# --- context and variables -------------------------------------------------------------------


def normalize_context(context: Mapping[str, Iterable[str] | str]) -> dict[str, tuple[str, ...]]:
    """Keys lower-cased (IAM key names are case-insensitive), values as tuples of strings.

    A bare string value is one value; keys differing only in case are merged."""
    out: dict[str, tuple[str, ...]] = {}
    for key, raw in context.items():
        values = (raw,) if isinstance(raw, str) else tuple(str(value) for value in raw)
        lowered = key.lower()
        if lowered in out:
            values = tuple(dict.fromkeys(out[lowered] + values))
        out[lowered] = values
    return out


def variable_keys(value: str) -> tuple[str, ...]:
    """The context keys the policy variables of ``value`` refer to, as written."""
    if "${" not in value:
        return ()
    keys: list[str] = []
    for match in _VARIABLE.finditer(value):
        body = match.group(1)
        if body in _ESCAPES:
            continue
        parsed = _VARIABLE_BODY.fullmatch(body)
        if parsed:
            keys.append(parsed.group(1))
    return tuple(keys)


def resolve_variables(value: str, context: Context, complete: bool) -> Resolution:
    """Substitute the policy variables of ``value`` from a normalized context.

    Returns the segments, ``"unknown"`` when a variable's key is missing from an incomplete
    context, or ``"absent"`` when it cannot be resolved (so the value matches nothing)."""
    if "${" not in value:
        return ((value, False),)
    segments: list[Segment] = []
    position = 0
    unknown = False
    for match in _VARIABLE.finditer(value):
        if match.start() > position:
            segments.append((value[position : match.start()], False))
        position = match.end()
        body = match.group(1)
        if body in _ESCAPES:
            segments.append((body, True))
            continue
        parsed = _VARIABLE_BODY.fullmatch(body)
        if parsed is None:  # not a variable IAM would recognise: keep the text as written
            segments.append((match.group(0), True))
            continue
        key, default = parsed.group(1).lower(), parsed.group(2)
        values = context.get(key)
        if values is None and not complete:
            unknown = True
        elif values is not None and len(values) == 1:
            segments.append((values[0], True))
        elif default is not None:
            segments.append((default, True))
        else:
            return "absent"
    if unknown:
        return "unknown"
    if position < len(value):
        segments.append((value[position:], False))
    return tuple(segments)


@lru_cache(maxsize=16384)
def segments_regex(
    segments: tuple[Segment, ...], *, arn: bool, ignore_case: bool
) -> re.Pattern[str]:
    """The anchored regex of resolved segments: wildcards only in non-literal text.

    With ``arn``, a pattern of six or more colon-separated fields has its wildcards confined to one
    field each, except the last (the resource id, which may itself contain colons)."""
    per_field = arn and sum(text.count(":") for text, _ in segments) >= 5
    parts: list[str] = []
    colons = 0
    for text, literal in segments:
        for char in text:
            confined = per_field and colons < 5
            if char == ":":
                colons += 1
                parts.append(":")
            elif not literal and char == "*":
                parts.append("[^:]*" if confined else ".*")
            elif not literal and char == "?":
                parts.append("[^:]" if confined else ".")
            else:
                parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


# --- value matchers ----------------------------------------------------------------------------


def _text(segments: tuple[Segment, ...]) -> str:
    return "".join(text for text, _ in segments)


def _string_equals(segments: tuple[Segment, ...], value: str) -> bool:
    return _text(segments) == value


def _string_equals_ignore_case(segments: tuple[Segment, ...], value: str) -> bool:
    return _text(segments).casefold() == value.casefold()


def _string_like(segments: tuple[Segment, ...], value: str) -> bool:
    return segments_regex(segments, arn=False, ignore_case=False).fullmatch(value) is not None


def _arn_like(segments: tuple[Segment, ...], value: str) -> bool:
    return segments_regex(segments, arn=True, ignore_case=False).fullmatch(value) is not None


def _bool(segments: tuple[Segment, ...], value: str) -> bool:
    return _text(segments).strip().lower() == value.strip().lower()


def _parse_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    try:
        if _EPOCH.fullmatch(text):
            return _EPOCH_ZERO + timedelta(seconds=float(text))
        parsed = datetime.fromisoformat(text)  # 3.11: "Z", offsets, fractions, date-only
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _compare(
    parse: Callable[[str], Decimal | datetime | None], test: Callable[[int], bool]
) -> Callable[[tuple[Segment, ...], str], bool]:
    """A matcher comparing request value to policy value: ``test(sign(request - policy))``."""

    def match(segments: tuple[Segment, ...], value: str) -> bool:
        policy_value, request_value = parse(_text(segments)), parse(value)
        if policy_value is None or request_value is None:
            return False
        sign = (request_value > policy_value) - (request_value < policy_value)  # type: ignore[operator]
        return test(sign)

    return match


def _ip_address(segments: tuple[Segment, ...], value: str) -> bool:
    try:
        network = ipaddress.ip_network(_text(segments).strip(), strict=False)
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return address in network  # False across IPv4 / IPv6


@dataclass(frozen=True, slots=True)
class _Operator:
    match: Callable[[tuple[Segment, ...], str], bool]
    negated: bool = False
    variables: bool = False  # policy variables are substituted in its values


def _eq(sign: int) -> bool:
    return sign == 0


def _lt(sign: int) -> bool:
    return sign < 0


def _le(sign: int) -> bool:
    return sign <= 0


def _gt(sign: int) -> bool:
    return sign > 0


def _ge(sign: int) -> bool:
    return sign >= 0


_number = _parse_number
_date = _parse_date

# Keyed by the lower-cased base name: IAM's operator names are matched case-insensitively here so a
# hand-written "stringEquals" is not silently treated as unknown.
_OPERATORS: dict[str, _Operator] = {
    "stringequals": _Operator(_string_equals, variables=True),
    "stringnotequals": _Operator(_string_equals, negated=True, variables=True),
    "stringequalsignorecase": _Operator(_string_equals_ignore_case, variables=True),
    "stringnotequalsignorecase": _Operator(
        _string_equals_ignore_case, negated=True, variables=True
    ),
    "stringlike": _Operator(_string_like, variables=True),
    "stringnotlike": _Operator(_string_like, negated=True, variables=True),
    "numericequals": _Operator(_compare(_number, _eq)),
    "numericnotequals": _Operator(_compare(_number, _eq), negated=True),
    "numericlessthan": _Operator(_compare(_number, _lt)),
    "numericlessthanequals": _Operator(_compare(_number, _le)),
    "numericgreaterthan": _Operator(_compare(_number, _gt)),
    "numericgreaterthanequals": _Operator(_compare(_number, _ge)),
    "dateequals": _Operator(_compare(_date, _eq)),
    "datenotequals": _Operator(_compare(_date, _eq), negated=True),
    "datelessthan": _Operator(_compare(_date, _lt)),
    "datelessthanequals": _Operator(_compare(_date, _le)),
    "dategreaterthan": _Operator(_compare(_date, _gt)),
    "dategreaterthanequals": _Operator(_compare(_date, _ge)),
    "bool": _Operator(_bool),
    "binaryequals": _Operator(_string_equals),
    "ipaddress": _Operator(_ip_address),
    "notipaddress": _Operator(_ip_address, negated=True),
    "arnequals": _Operator(_arn_like, variables=True),
    "arnlike": _Operator(_arn_like, variables=True),
    "arnnotequals": _Operator(_arn_like, negated=True, variables=True),
    "arnnotlike": _Operator(_arn_like, negated=True, variables=True),
}

Qualifier = Literal["forallvalues", "foranyvalue"] | None


@lru_cache(maxsize=1024)
def _parse_operator(name: str) -> tuple[Qualifier, str, bool] | None:
    """(set qualifier, lower-cased base name, IfExists) or None for an unknown operator."""
    lowered = name.strip().lower()
    qualifier: Qualifier = None
    if lowered.startswith("forallvalues:"):
        qualifier, lowered = "forallvalues", lowered.removeprefix("forallvalues:")
    elif lowered.startswith("foranyvalue:"):
        qualifier, lowered = "foranyvalue", lowered.removeprefix("foranyvalue:")
    if_exists = lowered.endswith("ifexists")
    lowered = lowered.removesuffix("ifexists")
    if lowered == "null":
        # Null takes neither a qualifier nor IfExists (it is the existence test itself).
        return None if qualifier or if_exists else (None, "null", False)
    if lowered not in _OPERATORS:
        return None
    return qualifier, lowered, if_exists


def is_known_operator(name: str) -> bool:
    return _parse_operator(name) is not None


# --- three-valued logic ------------------------------------------------------------------------


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


def _any(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _all(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


# --- evaluation --------------------------------------------------------------------------------


def evaluate_normalized(cond: Condition, context: Context, *, complete: bool) -> bool | None:
    """Whether the request described by ``context`` (passed through ``normalize_context``)
    satisfies ``cond``; None when unknown."""
    parsed = _parse_operator(cond.operator)
    if parsed is None:
        return None
    qualifier, base, if_exists = parsed
    present = context.get(cond.key.lower())
    if present is None:
        if not complete:
            return None  # the request may carry the key, with any value
        present = ()

    if base == "null":
        exists = bool(present)
        # "true": the key must be absent; "false": it must be present. Values OR, as elsewhere.
        return any(
            value.strip().lower() == ("false" if exists else "true") for value in cond.values
        )

    operator = _OPERATORS[base]
    if not present:
        if qualifier == "forallvalues":
            return True
        if qualifier == "foranyvalue":
            return False  # IfExists does not rescue a set operator (module docstring)
        if if_exists:
            return True
        return operator.negated

    resolved: list[Resolution] = [
        resolve_variables(value, context, complete) if operator.variables else ((value, False),)
        for value in cond.values
    ]

    def matches_any_policy_value(request_value: str) -> bool | None:
        result: bool | None = False
        for resolution in resolved:
            if resolution == "unknown":
                result = None
            elif resolution != "absent" and operator.match(resolution, request_value):
                return True
        return result

    per_value = (
        _not(matches_any_policy_value(value))
        if operator.negated
        else matches_any_policy_value(value)
        for value in present
    )
    return _all(per_value) if qualifier == "forallvalues" else _any(per_value)


def condition_keys(cond: Condition) -> tuple[str, ...]:
    """The context keys ``cond`` reads: its key, then the keys of variables in its values."""
    parsed = _parse_operator(cond.operator)
    keys = [cond.key]
    if parsed is not None and parsed[1] != "null" and _OPERATORS[parsed[1]].variables:
        for value in cond.values:
            keys.extend(variable_keys(value))
    return tuple(dict.fromkeys(keys))


def unknown_keys(cond: Condition, context: Context) -> tuple[str, ...]:
    """The keys that made ``cond`` unknown: those it reads that a normalized context lacks.

    For an unknown operator every key may be present, and the condition's own key is named."""
    missing = tuple(key for key in condition_keys(cond) if key.lower() not in context)
    return missing or (cond.key,)
