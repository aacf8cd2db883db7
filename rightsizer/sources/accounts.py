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

from collections.abc import Callable, Iterable, Mapping, Sequence
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

__all__ = ["ACCOUNT_POOL", "MemberAccess", "Members", "account_input", "accounts_of",
           "failed_account", "for_each_account", "load_iam_input", "member_accounts",
           "merge_authorization_details", "open_members"]

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
    def read_live(self) -> bool:
        """Member accounts are read live, each through the assumed role (else only the
        credentials' own account is)."""
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
    return tuple(sorted({aws_names.arn_account(role.arn) for role in details.roles} - {""}))


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


@dataclass(frozen=True)
class MemberAccess:
    """The member accounts of a run, each assumed once: their options (with the assumed role's
    credentials, or the caller's own for its own account), and why the others could not be."""

    options: Mapping[str, AwsOptions]
    failed: Mapping[str, str]  # account -> AWS's reason

    def with_accounts(self, caller: AwsOptions, members: Members,
                      accounts: Iterable[str]) -> MemberAccess:
        """This access and ``accounts`` it does not hold yet, assumed now."""
        missing = sorted(set(accounts) - set(self.options) - set(self.failed))
        if not missing:
            return self
        more = open_members(caller, replace(members, accounts=tuple(missing),
                                            organization=False))
        return MemberAccess({**self.options, **more.options}, {**self.failed, **more.failed})


def open_members(options: AwsOptions, members: Members) -> MemberAccess:
    """Assume ``members.assume_role`` in each member account, ``ACCOUNT_POOL`` at a time."""
    from botocore.exceptions import BotoCoreError, ClientError

    accounts = member_accounts(options, members)
    if not accounts:
        raise SourceError("AWS Organizations lists no active account: nothing to read")
    try:
        identity = make_aws_client("sts", options).get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise source_error("STS GetCallerIdentity", exc, options) from exc
    own, partition = str(identity["Account"]), str(identity["Arn"]).split(":")[1]
    role = str(members.assume_role).strip("/")

    def one(account: str) -> AwsOptions | str:
        if account == own:
            return options
        try:
            return _assumed(options, f"arn:{partition}:iam::{account}:role/{role}")
        except RightsizerError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=min(ACCOUNT_POOL, len(accounts))) as pool:
        opened = dict(zip(accounts, pool.map(one, accounts), strict=True))
    return MemberAccess({a: o for a, o in opened.items() if isinstance(o, AwsOptions)},
                        {a: o for a, o in opened.items() if isinstance(o, str)})


def account_input(account: str) -> str:
    """How an account that could not be read is named among the bad inputs."""
    return f"account {account}"


def failed_account(uri: str) -> str | None:
    """The account an ``account_input`` names, or None for another input."""
    account = uri.removeprefix("account ")
    return account if account != uri and aws_names.ACCOUNT_ID.fullmatch(account) else None


def for_each_account(access: MemberAccess, read: Callable[[str, AwsOptions], T], *,
                     missing: str = "the account's roles are not in this run",
                     accounts: Iterable[str] | None = None
                     ) -> tuple[dict[str, T], list[BadInput]]:
    """``read(account, options)`` each account of ``access`` (or of ``accounts`` among them)
    with its own credentials, ``ACCOUNT_POOL`` at a time: what was read, by account, and a
    problem per account that could not be (assumed, or read: ``read`` raising a
    RightsizerError or botocore's errors), saying what is ``missing`` for it."""
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = set(accounts) if accounts is not None else None

    def included(account: str) -> bool:
        return wanted is None or account in wanted

    def one(account: str) -> tuple[str, T | None, str | None]:
        try:
            return account, read(account, access.options[account]), None
        except (BotoCoreError, ClientError) as exc:
            return account, None, describe_aws_error(exc)
        except RightsizerError as exc:
            return account, None, str(exc)

    found: dict[str, T] = {}
    reasons = {a: r for a, r in access.failed.items() if included(a)}
    todo = sorted(a for a in access.options if included(a))
    if todo:
        with ThreadPoolExecutor(max_workers=min(ACCOUNT_POOL, len(todo))) as pool:
            for account, result, reason in pool.map(one, todo):
                if reason is not None:
                    reasons[account] = reason
                else:
                    found[account] = result  # type: ignore[assignment]
    problems = [BadInput(account_input(a), f"{reasons[a]}; {missing}") for a in sorted(reasons)]
    return found, problems


def _assumed(options: AwsOptions, role_arn: str) -> AwsOptions:
    """``options`` with the credentials of ``role_arn`` assumed in its account. STS
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
