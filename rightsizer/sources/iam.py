"""IAM roles and managed policies, raw: from `aws iam get-account-authorization-details` output or
live from the IAM API.

Why raw. This module only finds the roles and the policy documents; it keeps each document exactly
as it came (a dict, or a URL-encoded string) and leaves parsing to ``rightsizer.iam``, so the one
place that knows policy semantics also owns the decoding. boto3 and the AWS CLI hand documents over
already URL-decoded (as dicts); other tools emit the RFC 3986 URL-encoded text the API itself
returns. Both are kept as they came.

What is read: ``RoleDetailList`` (``AssumeRolePolicyDocument``,
inline ``RolePolicyList``, ``AttachedManagedPolicies``, ``PermissionsBoundary``) and ``Policies``
with ``PolicyVersionList``, of which only the default version counts: a policy's other versions
grant nothing. Users and groups are skipped: rightsizer is about ECS roles.

Inputs:

- a file holding one page (``{"UserDetailList": [...], "RoleDetailList": [...], "Policies": [...],
  "IsTruncated": false}``, which is also what the CLI prints after following every page), a JSON
  list of such pages, or pages written one after another (``--max-items`` / ``--starting-token``
  runs appended to one file; each but the last ends in ``NextToken``);
- the live API: the ``get_account_authorization_details`` paginator with ``Filter=["Role",
  "LocalManagedPolicy", "AWSManagedPolicy"]``. Both policy filters, or AWS managed policies such as
  ``AmazonECSTaskExecutionRolePolicy`` are missing from the answer
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html). A
  policy attached to a role but absent from the listing (it was attached between two pages) is
  fetched on its own with ``get_policy`` + ``get_policy_version``.

Errors. A source that cannot be used at all (a missing file, not JSON, JSON that is not this
command's output, an AWS error on the listing) raises ``SourceError``. One entry of the wrong shape
(a role without ``RoleName``/``Arn``, a policy whose default version is missing) becomes a
``BadInput`` naming the entry and the reason, and everything else is still returned: exit code 4
after the run. A role with one unreadable part is left out whole, so no
verdict is drawn from half of its grants.

Documentation relied on:

- GetAccountAuthorizationDetails (pagination with ``Marker``/``IsTruncated``, the ``Filter``
  values, URL-encoded documents in ``PolicyVersion.Document``):
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html and
  https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services/iam/policyversion/document.html
- AWS CLI pagination (``--max-items`` prints ``NextToken``; without it the CLI follows every page):
  https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-pagination.html
- botocore's paginator model for this operation: ``result_key`` is the four lists, ``more_results``
  is ``IsTruncated`` (botocore/data/iam/2010-05-08/paginators-1.json).
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rightsizer import aws_names
from rightsizer.errors import SourceError
from rightsizer.sources.aws import AwsOptions, describe_aws_error, make_aws_client, source_error
from rightsizer.sources.locate import BadInput
from rightsizer.text import shown as _shown

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = [
    "AuthorizationDetails",
    "BadInput",
    "ManagedPolicyDetails",
    "RoleDetails",
    "caller_account",
    "fetch_authorization_details",
    "fetch_managed_policy",
    "json_documents",
    "load_authorization_details",
]

log = logging.getLogger(__name__)

# Both managed-policy filters: without AWSManagedPolicy the AWS managed policies attached to
# roles are not listed.
AUTHORIZATION_FILTER = ("Role", "LocalManagedPolicy", "AWSManagedPolicy")

# arn:aws:iam::aws:policy/... in every partition (aws, aws-cn, aws-us-gov, ...).
_AWS_MANAGED = re.compile(r"^arn:[a-z-]+:iam::aws:policy/")
_ACCOUNT_IN_ARN = re.compile(r"^arn:[a-z-]+:iam::(\d{12}):")

Document = Mapping[str, Any] | str


@dataclass(frozen=True, slots=True)
class RoleDetails:
    """One role as IAM describes it; documents raw (dict or URL-encoded str)."""

    name: str
    arn: str
    path: str
    role_id: str | None
    create_date: str | None
    trust_policy: Document | None
    inline_policies: tuple[tuple[str, Document], ...]  # (PolicyName, PolicyDocument), by name
    attached_policy_arns: tuple[str, ...]  # sorted
    boundary_arn: str | None
    tags: tuple[tuple[str, str], ...]  # sorted
    last_used: str | None  # RoleLastUsed.LastUsedDate
    # RoleLastUsed was in the answer (an empty one: no use in IAM's tracking period, 400 days)
    last_used_known: bool = False


@dataclass(frozen=True, slots=True)
class ManagedPolicyDetails:
    """A managed policy and the document of its default version (the only one that grants)."""

    arn: str
    name: str
    default_version_id: str | None
    document: Document | None
    aws_managed: bool


@dataclass(frozen=True, slots=True)
class AuthorizationDetails:
    """The roles and managed policies of one account, and the entries that could not be read."""

    roles: tuple[RoleDetails, ...]  # sorted by arn
    policies: Mapping[str, ManagedPolicyDetails]  # by arn, read-only
    source: str  # "file <path>" or "aws account <id>/<profile>"
    problems: tuple[BadInput, ...]


class _Bad(Exception):
    """An entry of the wrong shape; the message is the reason."""


# --- files -------------------------------------------------------------------------------------


def json_documents(path: Path, what: str) -> list[Any]:
    """Every top-level JSON value in ``path``: one, or several written one after another.

    Shared with ``sources.ecs``. Raises ``SourceError`` naming the file and the reason (``what``
    says what was expected). UTF-16 files with a byte order mark (PowerShell 5's ``>``) and a
    UTF-8 BOM are read too."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SourceError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise SourceError(f"{path}: is a folder, expected a file ({what})") from exc
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not JSON (not UTF-8 text): expected {what}") from exc
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = _skip_space(text, 0)
    if position == len(text):
        raise SourceError(f"{path}: empty file: expected {what}")
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"{path}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                f"expected {what}"
            ) from exc
        documents.append(value)
        position = _skip_space(text, position)
    return documents


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def load_authorization_details(path: Path) -> AuthorizationDetails:
    """Read `aws iam get-account-authorization-details` output (see the module docstring)."""
    path = Path(path)
    what = "the output of aws iam get-account-authorization-details"
    pages: list[Any] = []
    for document in json_documents(path, what):
        # A JSON list of pages, or pages one after another: both are a sequence of pages.
        pages.extend(document if isinstance(document, list) else [document])
    if not any(isinstance(p, Mapping) and "RoleDetailList" in p for p in pages):
        raise SourceError(f"{path}: no RoleDetailList: expected {what}")
    collector = _Collector(str(path), several_pages=len(pages) > 1)
    for number, page in enumerate(pages):
        collector.add_page(page, number)
    last = pages[-1]
    if isinstance(last, Mapping) and (last.get("IsTruncated") is True or "NextToken" in last):
        collector.problem(
            str(path),
            "the output is truncated (its last page has IsTruncated: true or a NextToken): "
            "roles and policies of the pages after it are missing",
        )
    for arn, roles in collector.missing_policies().items():
        collector.problem(
            f"{path} policy {arn}",
            f"attached to {', '.join(roles)} but not in Policies (was the output made without "
            "the LocalManagedPolicy and AWSManagedPolicy filters?)",
        )
    return collector.result(f"file {path}")


# --- live --------------------------------------------------------------------------------------


def fetch_authorization_details(options: AwsOptions) -> AuthorizationDetails:
    """Every role and managed policy of the account, through the IAM API (see the module docstring).

    An AWS error on the listing raises ``SourceError`` naming IAM; a policy that is attached but
    can be fetched neither in the listing nor on its own is a problem, the rest is returned."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = make_aws_client("iam", options)
    collector = _Collector("IAM", several_pages=True)
    paginator = client.get_paginator("get_account_authorization_details")
    try:
        for number, page in enumerate(paginator.paginate(Filter=list(AUTHORIZATION_FILTER))):
            collector.add_page(page, number)
    except (BotoCoreError, ClientError) as exc:
        raise source_error("IAM", exc, options) from exc
    for arn, roles in collector.missing_policies().items():
        try:
            collector.add_policy(fetch_managed_policy(client, arn))
        except (BotoCoreError, ClientError) as exc:
            collector.problem(
                f"IAM policy {arn}",
                f"attached to {', '.join(roles)}, not in the listing, and "
                f"GetPolicy failed: {describe_aws_error(exc)}",
            )
        except _Bad as exc:
            collector.problem(f"IAM policy {arn}", str(exc))
    account = collector.account() or caller_account(options) or "unknown"
    return collector.result(f"aws account {account}/{options.profile or 'default'}")


def fetch_managed_policy(client: BaseClient, arn: str) -> ManagedPolicyDetails:
    """One managed policy and its default version's document: ``get_policy`` then
    ``get_policy_version``. boto3 errors propagate; a wrong shape raises ``_Bad``."""
    policy = client.get_policy(PolicyArn=arn)["Policy"]
    version_id = policy.get("DefaultVersionId")
    if not isinstance(version_id, str):
        raise _Bad("GetPolicy answered without a DefaultVersionId")
    version = client.get_policy_version(PolicyArn=arn, VersionId=version_id)["PolicyVersion"]
    document = version.get("Document")
    if not isinstance(document, Mapping | str):
        raise _Bad(f"default version {version_id} has no Document")
    name = policy.get("PolicyName")
    return ManagedPolicyDetails(
        arn=arn,
        name=name if isinstance(name, str) else arn.rsplit("/", 1)[-1],
        default_version_id=version_id,
        document=document,
        aws_managed=bool(_AWS_MANAGED.match(arn)),
    )


def caller_account(options: AwsOptions) -> str | None:
    """The account of the credentials, for the source label when no ARN read tells it (shared
    with ``sources.ecs``). ``sts:GetCallerIdentity`` needs no permission."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(make_aws_client("sts", options).get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as exc:
        log.debug("sts GetCallerIdentity failed: %s", describe_aws_error(exc))
        return None


# --- pages -> records --------------------------------------------------------------------------


class _Collector:
    """Roles and policies gathered over pages; first entry wins when an ARN repeats."""

    def __init__(self, label: str, *, several_pages: bool) -> None:
        self.label = label
        self.several_pages = several_pages
        self.roles: dict[str, RoleDetails] = {}
        self._names: dict[tuple[str, str], RoleDetails] = {}
        self.policies: dict[str, ManagedPolicyDetails] = {}
        self.problems: list[BadInput] = []

    def problem(self, where: str, reason: str) -> None:
        self.problems.append(BadInput(where, reason))

    def _where(self, number: int, key: str, index: int | None = None) -> str:
        page = f" page {number + 1}" if self.several_pages else ""
        item = f"[{index}]" if index is not None else ""
        return f"{self.label}{page} {key}{item}"

    def add_page(self, page: Any, number: int) -> None:
        if not isinstance(page, Mapping) or not ("RoleDetailList" in page or "Policies" in page):
            where = f"{self.label} page {number + 1}" if self.several_pages else self.label
            self.problem(where, f"not a page of get-account-authorization-details ({_kind(page)})")
            return
        for index, entry in self._entries(page, number, "RoleDetailList"):
            try:
                role = _role(entry)
            except _Bad as exc:
                self.problem(
                    self._where(number, "RoleDetailList", index) + _entry_name(entry), str(exc)
                )
                continue
            self._add_role(role, self._where(number, "RoleDetailList", index))
        for index, entry in self._entries(page, number, "Policies"):
            try:
                policy = _policy(entry)
            except _Bad as exc:
                self.problem(self._where(number, "Policies", index) + _entry_name(entry), str(exc))
                continue
            self.policies.setdefault(policy.arn, policy)

    def _add_role(self, role: RoleDetails, where: str) -> None:
        """The first entry of a role wins. IAM has one role per name in an account, ignoring
        case: a second entry that says something else is a problem, as the data contradicts
        itself; the same entry twice (pages concatenated twice) is not."""
        key = role.arn.split(":")[4], role.name.lower()  # arn:PARTITION:iam::ACCOUNT:role/...
        first = self._names.setdefault(key, role)
        if first is role:
            self.roles[role.arn] = role
        elif first != role:
            self.problem(f"{where} ({role.name})",
                         f"a second, different entry for role {first.name} ({first.arn}): the "
                         "first is used; IAM holds one role per name in an account")

    def _entries(self, page: Mapping[str, Any], number: int, key: str) -> list[tuple[int, Any]]:
        entries = page.get(key)
        if entries is None:
            return []
        if not isinstance(entries, list):
            self.problem(self._where(number, key), f"is {_kind(entries)}, not a list")
            return []
        return list(enumerate(entries))

    def add_policy(self, policy: ManagedPolicyDetails) -> None:
        self.policies.setdefault(policy.arn, policy)

    def missing_policies(self) -> dict[str, list[str]]:
        """Policy ARNs attached to a role (or its boundary) but not read, with the role names."""
        missing: dict[str, list[str]] = {}
        for role in self.roles.values():
            arns = [*role.attached_policy_arns, *([role.boundary_arn] if role.boundary_arn else [])]
            for arn in arns:
                if arn not in self.policies:
                    missing.setdefault(arn, []).append(role.name)
        return dict(sorted(missing.items()))

    def account(self) -> str | None:
        for arn in (*self.roles, *self.policies):
            match = _ACCOUNT_IN_ARN.match(arn)
            if match:
                return match.group(1)
        return None

    def result(self, source: str) -> AuthorizationDetails:
        return AuthorizationDetails(
            roles=tuple(self.roles[arn] for arn in sorted(self.roles)),
            policies=MappingProxyType(dict(sorted(self.policies.items()))),
            source=source,
            problems=tuple(self.problems),
        )


def _role(entry: Any) -> RoleDetails:
    if not isinstance(entry, Mapping):
        raise _Bad(f"a role entry must be an object, not {_kind(entry)}")
    name = _required_str(entry, "RoleName")
    if not aws_names.ROLE_NAME.fullmatch(name):
        raise _Bad(f"RoleName {_shown(name)} is not an IAM role name ({aws_names.ROLE_NAME_RULE})")
    arn = _required_str(entry, "Arn")
    if not aws_names.ROLE_ARN.fullmatch(arn) or not arn.endswith("/" + name):
        raise _Bad(f"Arn {_shown(arn)} is not the ARN of a role named {name}")
    path = entry.get("Path")
    if path is None:
        # Derive it from the ARN: arn:aws:iam::ACCOUNT:role/PATH/NAME.
        resource = arn.split(":", 5)[-1]
        path = "/" + resource.removeprefix("role/").removesuffix(name)
    elif not isinstance(path, str):
        raise _Bad(f"Path is {_kind(path)}, not a string")
    trust = entry.get("AssumeRolePolicyDocument")
    if trust is not None:
        trust = _document(trust, "AssumeRolePolicyDocument")
    inline: list[tuple[str, Document]] = []
    for index, item in enumerate(_list(entry, "RolePolicyList")):
        what = f"RolePolicyList[{index}]"
        if not isinstance(item, Mapping):
            raise _Bad(f"{what} must be an object, not {_kind(item)}")
        policy_name = _required_str(item, "PolicyName", what)
        inline.append(
            (policy_name, _document(item.get("PolicyDocument"), f"{what}.PolicyDocument"))
        )
    attached: list[str] = []
    for index, item in enumerate(_list(entry, "AttachedManagedPolicies")):
        what = f"AttachedManagedPolicies[{index}]"
        if not isinstance(item, Mapping):
            raise _Bad(f"{what} must be an object, not {_kind(item)}")
        attached.append(_required_str(item, "PolicyArn", what))
    boundary = entry.get("PermissionsBoundary")
    boundary_arn = None
    if boundary:
        if not isinstance(boundary, Mapping):
            raise _Bad(f"PermissionsBoundary must be an object, not {_kind(boundary)}")
        boundary_arn = _required_str(boundary, "PermissionsBoundaryArn", "PermissionsBoundary")
    tags: list[tuple[str, str]] = []
    for index, item in enumerate(_list(entry, "Tags")):
        what = f"Tags[{index}]"
        if not isinstance(item, Mapping):
            raise _Bad(f"{what} must be an object, not {_kind(item)}")
        tags.append((_required_str(item, "Key", what), str(item.get("Value", ""))))
    last_used = entry.get("RoleLastUsed")
    return RoleDetails(
        name=name,
        arn=arn,
        path=path,
        role_id=_text(entry.get("RoleId")),
        create_date=_text(entry.get("CreateDate")),
        trust_policy=trust,
        inline_policies=tuple(sorted(inline, key=lambda item: item[0])),
        attached_policy_arns=tuple(sorted(set(attached))),
        boundary_arn=boundary_arn,
        tags=tuple(sorted(tags)),
        last_used=_text(last_used.get("LastUsedDate")) if isinstance(last_used, Mapping) else None,
        last_used_known=isinstance(last_used, Mapping),
    )


def _policy(entry: Any) -> ManagedPolicyDetails:
    if not isinstance(entry, Mapping):
        raise _Bad(f"a policy entry must be an object, not {_kind(entry)}")
    arn = _required_str(entry, "Arn")
    name = entry.get("PolicyName")
    if not isinstance(name, str) or not name:
        name = arn.rsplit("/", 1)[-1]
    version = _default_version(entry)
    return ManagedPolicyDetails(
        arn=arn,
        name=name,
        default_version_id=_text(version.get("VersionId")),
        document=_document(version.get("Document"), f"version {version.get('VersionId')} Document"),
        aws_managed=bool(_AWS_MANAGED.match(arn)),
    )


def _default_version(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """The default version: the one ``DefaultVersionId`` names, else the one flagged
    ``IsDefaultVersion: true``. The two disagreeing, or neither found, is a wrong shape: guessing
    would read grants from a version that does not apply."""
    versions = _list(entry, "PolicyVersionList")
    for index, version in enumerate(versions):
        if not isinstance(version, Mapping):
            raise _Bad(f"PolicyVersionList[{index}] must be an object, not {_kind(version)}")
    flagged = [v for v in versions if v.get("IsDefaultVersion") is True]
    wanted = entry.get("DefaultVersionId")
    if wanted is not None:
        named = [v for v in versions if v.get("VersionId") == wanted]
        if not named:
            raise _Bad(f"default version {wanted} is not in PolicyVersionList")
        if flagged and flagged[0] is not named[0]:
            raise _Bad(
                f"DefaultVersionId is {wanted} but PolicyVersionList marks "
                f"{flagged[0].get('VersionId')} as the default"
            )
        return named[0]
    if len(flagged) == 1:
        return flagged[0]
    if not flagged:
        raise _Bad("no default version: no DefaultVersionId and no IsDefaultVersion: true")
    raise _Bad(f"{len(flagged)} versions are marked IsDefaultVersion: true")


def _document(value: Any, what: str) -> Document:
    """A policy document as it came: an object, or a (URL-encoded) JSON string."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip():
        return value
    raise _Bad(f"{what} is {_kind(value)}, not a policy document")


def _required_str(entry: Mapping[str, Any], key: str, where: str = "") -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        place = f"{where}." if where else ""
        raise _Bad(
            f"{place}{key} is missing" if value is None else f"{place}{key} is {_kind(value)}"
        )
    return value


def _list(entry: Mapping[str, Any], key: str) -> list[Any]:
    value = entry.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{key} is {_kind(value)}, not a list")
    return value


def _text(value: Any) -> str | None:
    """Dates are ISO text in CLI output and datetimes from boto3; both become ISO text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _entry_name(entry: Any) -> str:
    """`` (role NAME)`` / `` (policy ARN)`` where the broken entry still says who it is."""
    if not isinstance(entry, Mapping):
        return ""
    for key, label in (
        ("Arn", ""),
        ("RoleName", "role "),
        ("PolicyName", "policy "),
        ("RoleId", "role id "),
        ("PolicyId", "policy id "),
    ):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return f" ({label}{value})"
    return ""
