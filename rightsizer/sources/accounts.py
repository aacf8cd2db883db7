"""The IAM data of several accounts as one: a folder of `aws iam get-account-authorization-details`
outputs (one file per account), or every member account read live through a role rightsizer
assumes in each.

Live (``Members``): the accounts given, or every active account of the organization
(``organizations:ListAccounts``, from the management or a delegated administrator account). In
each, rightsizer assumes ``assume_role`` (``sts:AssumeRole`` on
``arn:PARTITION:iam::ACCOUNT:role/NAME``, deploy/ has it as a StackSet and a Terraform module)
and reads with those credentials; the account of the credentials themselves is read with them,
without assuming anything (a StackSet does not deploy to the management account). Accounts are
read a few at a time (``ACCOUNT_POOL``). An account that cannot be assumed or read is a problem
naming it and AWS's reason; the others are still read (exit 4).

Role and customer managed policy ARNs hold their account, so the accounts' data join without
collision; AWS managed policies (``arn:aws:iam::aws:policy/...``) are the same document in every
account and are kept once. An account met twice (two files, two snapshots) is a problem naming
both: the first file read (in path order) is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from rightsizer import aws_names
from rightsizer.errors import ConfigError, RightsizerError, SourceError
from rightsizer.sources.aws import (
    AwsOptions,
    Credentials,
    describe_aws_error,
    make_aws_client,
    source_error,
)
from rightsizer.sources.ecs import json_files
from rightsizer.sources.iam import (
    AuthorizationDetails,
    ManagedPolicyDetails,
    RoleDetails,
    load_authorization_details,
)
from rightsizer.sources.locate import BadInput

__all__ = ["ACCOUNT_POOL", "Members", "accounts_of", "for_each_account", "load_iam_input",
           "member_accounts", "merge_authorization_details"]

_WHAT = "the output of aws iam get-account-authorization-details"

# How many member accounts are read at once: enough to hide the latency of IAM's paginated
# listing, few enough to stay inside IAM's and STS's request rates.
ACCOUNT_POOL = 8
# The session name in the member accounts' CloudTrail: who read them.
SESSION_NAME = "rightsizer-inventory"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Members:
    """The member accounts a live run reads, and the role it assumes in each."""

    accounts: tuple[str, ...] = ()
    organization: bool = False  # every active account of the organization
    assume_role: str | None = None  # the role's name (or path/name) in every member account

    def __post_init__(self) -> None:
        bad = [a for a in self.accounts if not aws_names.ACCOUNT_ID.fullmatch(a)]
        if bad:
            raise ConfigError(f"--account: {', '.join(bad)}: an account id is 12 digits")
        if self.organization and not self.assume_role:
            raise ConfigError("--organization needs --assume-role ROLE_NAME: the role "
                              "rightsizer assumes in each member account (deploy/ has it)")
        if self.assume_role and not (self.accounts or self.organization):
            raise ConfigError("--assume-role: name the member accounts to read (--account ID, "
                              "repeatable) or give --organization")

    @property
    def several(self) -> bool:
        """Member accounts are read, each through the assumed role (else: the credentials'
        own account only, as before)."""
        return self.assume_role is not None


def load_iam_input(path: Path) -> AuthorizationDetails:
    """A file of one account's authorization details, or a folder of them (every ``*.json``
    below it, one account each). In a folder, a file that cannot be read is a problem naming it
    and the others are still read; a folder with none readable is a ``SourceError``."""
    path = Path(path)
    if not path.is_dir():
        return load_authorization_details(path)
    files = sorted(json_files(path))
    if not files:
        raise SourceError(f"{path}: no .json files in this folder: expected {_WHAT}, one file "
                          "per account")
    parts: list[AuthorizationDetails] = []
    unreadable: list[BadInput] = []
    for file in files:
        try:
            parts.append(load_authorization_details(file))
        except SourceError as exc:
            unreadable.append(BadInput(str(file), str(exc).removeprefix(f"{file}: ")))
    if not parts:
        raise SourceError(f"{path}: none of its {len(files)} .json files is {_WHAT}: "
                          + "; ".join(f"{b.uri}: {b.reason}" for b in unreadable))
    merged = merge_authorization_details(parts, f"folder {path}")
    return AuthorizationDetails(roles=merged.roles, policies=merged.policies,
                                source=merged.source,
                                problems=(*unreadable, *merged.problems))


def accounts_of(details: AuthorizationDetails) -> tuple[str, ...]:
    """The accounts whose roles ``details`` holds, sorted."""
    return tuple(sorted({_account(role.arn) for role in details.roles} - {""}))


def merge_authorization_details(parts: Sequence[AuthorizationDetails],
                                source: str) -> AuthorizationDetails:
    """Several accounts' authorization details as one (see the module docstring)."""
    roles: dict[str, RoleDetails] = {}
    policies: dict[str, ManagedPolicyDetails] = {}
    problems: list[BadInput] = []
    owner: dict[str, str] = {}  # account -> the source whose data of it is used
    for part in parts:
        problems.extend(part.problems)
        taken = sorted(account for account in accounts_of(part) if account in owner)
        if taken:
            problems.append(BadInput(part.source.removeprefix("file "), (
                f"account {', '.join(taken)} is also in {owner[taken[0]]}: only one snapshot "
                f"of an account can be used, so this one is ignored")))
            continue
        for account in accounts_of(part):
            owner[account] = part.source.removeprefix("file ")
        for role in part.roles:
            roles.setdefault(role.arn, role)
        for arn, policy in part.policies.items():
            policies.setdefault(arn, policy)
    return AuthorizationDetails(
        roles=tuple(roles[arn] for arn in sorted(roles)),
        policies=MappingProxyType(dict(sorted(policies.items()))),
        source=source, problems=tuple(problems))


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


# --- live ----------------------------------------------------------------------------------------


def member_accounts(options: AwsOptions, members: Members) -> tuple[str, ...]:
    """The accounts to read: those given, and with ``organization`` every ACTIVE account
    ``organizations:ListAccounts`` lists. A failed listing is a SourceError."""
    from botocore.exceptions import BotoCoreError, ClientError

    found = list(members.accounts)
    if members.organization:
        client = make_aws_client("organizations", options)
        try:
            for page in client.get_paginator("list_accounts").paginate():
                found += [str(a["Id"]) for a in page.get("Accounts", ())
                          if a.get("Status", "ACTIVE") == "ACTIVE"]
        except (BotoCoreError, ClientError) as exc:
            raise source_error("AWS Organizations ListAccounts", exc, options) from exc
    return tuple(sorted(set(found)))


def for_each_account(options: AwsOptions, members: Members,
                     read: Callable[[str, AwsOptions], T], *,
                     missing: str = "the account's roles are not in this run"
                     ) -> tuple[dict[str, T], list[BadInput]]:
    """``read(account, options)`` each member account with its own credentials,
    ``ACCOUNT_POOL`` at a time: what was read, by account, and a problem per account that could
    not be (assumed, or read: ``read`` raising a RightsizerError), saying what is ``missing``
    for it."""
    from botocore.exceptions import BotoCoreError, ClientError

    accounts = member_accounts(options, members)
    if not accounts:
        raise SourceError("AWS Organizations lists no active account: nothing to read")
    try:
        identity = make_aws_client("sts", options).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise source_error("STS GetCallerIdentity", exc, options) from exc
    own, partition = str(identity["Account"]), str(identity["Arn"]).split(":")[1]

    def one(account: str) -> tuple[str, T | None, str | None]:
        try:
            member = (options if account == own else
                      _assumed(options, account, f"arn:{partition}:iam::{account}:role/"
                               f"{str(members.assume_role).strip('/')}"))
            return account, read(account, member), None
        except (BotoCoreError, ClientError) as exc:
            return account, None, describe_aws_error(exc)
        except RightsizerError as exc:
            return account, None, str(exc)

    found: dict[str, T] = {}
    problems: list[BadInput] = []
    with ThreadPoolExecutor(max_workers=min(ACCOUNT_POOL, len(accounts))) as pool:
        for account, result, reason in pool.map(one, accounts):
            if reason is not None:
                problems.append(BadInput(f"account {account}", f"{reason}; {missing}"))
            else:
                found[account] = result  # type: ignore[assignment]
    return found, problems


def _assumed(options: AwsOptions, account: str, role_arn: str) -> AwsOptions:
    """The options of ``account``, with the credentials of ``role_arn`` assumed there. STS
    refusing (or failing) is a SourceError naming the role and AWS's reason: the account's."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = make_aws_client("sts", options).assume_role(
            RoleArn=role_arn, RoleSessionName=SESSION_NAME)
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(f"AssumeRole {role_arn}: {describe_aws_error(exc)}") from exc
    issued = answer["Credentials"]
    return replace(options, credentials=Credentials(
        access_key_id=issued["AccessKeyId"], secret_access_key=issued["SecretAccessKey"],
        session_token=issued["SessionToken"]))
