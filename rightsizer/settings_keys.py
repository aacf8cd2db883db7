"""The table of every setting key of ``rightsizer.settings``: section, name, type, default, the
rule a value must meet, and the environment variable and flag that messages name. Kept apart
from the loading so that each file holds one concern."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rightsizer import aws_names as names
from rightsizer.analysis.findings import Severity

__all__ = ["ENV_PREFIX", "KINDS", "SETTING_KEYS", "SettingKey"]

ENV_PREFIX = "RIGHTSIZER_"

# -- the table of keys --------------------------------------------------------------------------

KINDS = ("str", "list", "bool", "int", "float", "date", "choice")


@dataclass(frozen=True, slots=True)
class SettingKey:
    """One setting: where it lives, its type, default and rule, and the names messages use.

    ``must`` says what a valid value is ("a whole number of days >= 1"); for a list it says what
    each item is. ``check`` runs on the typed value (each item of a list)."""

    section: str
    name: str
    kind: str  # one of KINDS
    default: Any
    must: str
    check: Callable[[Any], bool] | None = None
    choices: tuple[str, ...] = ()
    flag: str | None = None

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}_{self.name.upper()}"

    @property
    def flag_name(self) -> str:
        return self.flag or f"--{self.section}-{self.name.replace('_', '-')}"


def _matches(pattern: str | re.Pattern[str]) -> Callable[[Any], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def _nonempty(value: str) -> bool:
    return bool(value.strip())


def _log_source(value: str) -> bool:
    return _nonempty(value) and (not value.startswith("s3://")
                                 or re.fullmatch(r"s3://[^/\s]+(/.*)?", value) is not None)


_S3_URI = r"s3://[^/\s]+(/\S*)?"

_K = SettingKey
SETTING_KEYS: tuple[SettingKey, ...] = (
    _K("sources", "logs", "list", (), "a local path or an s3://BUCKET/PREFIX URI", _log_source,
       flag="--logs"),
    _K("sources", "athena", "list", (), "athena://DATABASE.TABLE",
       _matches(names.ATHENA_TABLE_URI), flag="--athena"),
    _K("sources", "iam", "str", None,
       "'aws' or the path of `aws iam get-account-authorization-details` output", _nonempty,
       flag="--iam"),
    _K("sources", "ecs", "str", None, "'aws' or a file or folder of task definitions", _nonempty,
       flag="--ecs"),
    _K("sources", "trail", "list", (), "the path of `aws cloudtrail get-event-selectors` output",
       _nonempty, flag="--trail"),
    _K("sources", "last_accessed", "str", None,
       "'aws' or the path of IAM last-accessed data (role ARN -> `aws iam "
       "get-service-last-accessed-details` output)", _nonempty, flag="--last-accessed"),
    _K("sources", "public_keys", "str", None,
       "the path of `aws cloudtrail list-public-keys` output", _nonempty, flag="--public-keys"),
    _K("aws", "profile", "str", None, "an AWS profile name", _nonempty, flag="--profile"),
    _K("aws", "region", "str", None, "an AWS region like eu-west-1", _matches(names.REGION),
       flag="--region"),
    _K("aws", "ecs_regions", "list", (), "an AWS region like eu-west-1", _matches(names.REGION),
       flag="--ecs-region"),
    _K("aws", "endpoint_url", "str", None, "an http:// or https:// URL",
       _matches(r"https?://\S+"), flag="--endpoint-url"),
    _K("aws", "accounts", "list", (), "a 12-digit AWS account id", _matches(r"\d{12}"),
       flag="--accounts"),
    _K("aws", "organization", "bool", False, "true or false", flag="--organization"),
    _K("aws", "assume_role", "str", None, "an IAM role name, optionally with its path",
       _matches(r"(/[\x21-\x7e]{0,510}/)?[A-Za-z0-9_+=,.@-]{1,64}"), flag="--assume-role"),
    _K("athena", "workgroup", "str", "primary", "an Athena workgroup name",
       _matches(r"[A-Za-z0-9._-]{1,128}"), flag="--workgroup"),
    _K("athena", "output_location", "str", None, "an s3:// URI like s3://bucket/prefix/",
       _matches(_S3_URI), flag="--output-location"),
    _K("athena", "region", "str", None, "an AWS region like eu-west-1", _matches(names.REGION),
       flag="--athena-region"),
    _K("athena", "price_per_tb", "float", 5.0, "a price in USD per TB scanned > 0",
       lambda v: v > 0, flag="--price-per-tb"),
    _K("athena", "concurrency", "int", 4, "a whole number of queries in flight from 1 to 20",
       lambda v: 1 <= v <= 20, flag="--athena-concurrency"),
    _K("athena", "bucket", "str", None, "an S3 bucket name (without s3://)",
       _matches(names.BUCKET), flag="--bucket"),
    _K("athena", "prefix", "str", "",
       "a key prefix of folders each ending in / (without a leading / or s3://)",
       _matches(names.KEY_PREFIX), flag="--prefix"),
    _K("athena", "layout", "choice", "account", "", choices=("organization", "account"),
       flag="--layout"),
    _K("athena", "organization_id", "str", None, "an organization id like o-abc123defg",
       _matches(names.ORGANIZATION_ID), flag="--organization-id"),
    _K("athena", "accounts", "list", (), "a 12-digit account id", _matches(names.ACCOUNT_ID),
       flag="--account"),
    _K("athena", "regions", "list", (), "an AWS region like eu-west-1", _matches(names.REGION),
       flag="--log-region"),
    _K("athena", "projection_start", "date", None, "a date (2024-01-01)",
       flag="--projection-start"),
    _K("athena", "principals", "list", (), "a role ARN (arn:aws:iam::123456789012:role/name)",
       _matches(names.ROLE_ARN), flag="--principal"),
    _K("window", "days", "int", 90, "a whole number of days >= 1", lambda v: v >= 1,
       flag="--days"),
    _K("window", "since", "date", None, "a date (2026-09-01)", flag="--since"),
    _K("window", "until", "date", None, "a date (2026-11-27)", flag="--until"),
    _K("store", "path", "str", "rightsizer.duckdb", "a file path", _nonempty, flag="--db"),
    _K("output", "folder", "str", "out", "a folder path", _nonempty, flag="--out"),
    _K("output", "dated", "bool", False, "true or false", flag="--dated"),
    _K("output", "keep", "int", 0, "a whole number of runs >= 0 (0 keeps all)",
       lambda v: v >= 0, flag="--keep"),
    _K("run", "workers", "int", None, "a whole number of processes from 1 to 64",
       lambda v: 1 <= v <= 64, flag="--workers"),
    _K("run", "pdf", "bool", False, "true or false", flag="--pdf"),
    _K("run", "fail_on_findings", "bool", False, "true or false", flag="--fail-on-findings"),
    _K("run", "require_valid_logs", "bool", False, "true or false",
       flag="--require-valid-logs"),
    _K("logging", "format", "choice", "text", "", choices=("text", "json"),
       flag="--log-format"),
    _K("logging", "level", "choice", "warning", "",
       choices=("debug", "info", "warning", "error"), flag="--log-level"),
    _K("analysis", "min_window_days", "float", 30.0, "a number of days >= 0", lambda v: v >= 0,
       flag="--min-window-days"),
    _K("findings", "fail_on", "choice", Severity.HIGH.value, "",
       choices=tuple(s.value for s in Severity), flag="--fail-on"),
)
del _K
