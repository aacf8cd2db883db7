"""Settings of a rightsizer run: one frozen object, layered and validated once.

Every setting has a default; a TOML file overrides the defaults, the environment overrides the
file and command-line flags override the environment (defaults < file < environment < flags).
``load_settings(path, env=os.environ, flags={...})`` merges the layers, validates the result and
records where each effective value came from (``Settings.origins``: dotted key -> ``"default"``,
the file's path, ``"env RIGHTSIZER_X"`` or ``"flag"``). Every error is a ConfigError that names
the layer and the key: ``rightsizer.toml: window.days must be a whole number of days >= 1, not 0``,
``RIGHTSIZER_WINDOW_DAYS: must be ..., not 'abc'``, ``--since 2026-10-02 is after --until
2026-10-01``. Each value is checked where it is read (a typo in a file is an error even when a flag
overrides it); the cross-field checks (since <= until) run once, on the merged result. Unknown
sections or keys in the file are errors (a typo must not silently change a policy).

The file (``rightsizer run --config FILE``, or ``$RIGHTSIZER_CONFIG``), every key with its default::

    [sources]
    logs = []                       # CloudTrail logs: local files/folders or s3://BUCKET/PREFIX
    athena = []                     # athena://DATABASE.TABLE (identifiers [A-Za-z0-9_]+)
    iam = "aws"                     # default none: "aws" (live) or the path of
                                    #  `aws iam get-account-authorization-details` output
    ecs = "aws"                     # default none: "aws" (live) or a task definitions file/folder
    trail = []                      # `aws cloudtrail get-event-selectors` output files
    last_accessed = "la.json"       # default none: IAM's last-accessed data per role (a second
                                    #  witness: what IAM saw used is kept)
    public_keys = "keys.json"       # default none: `aws cloudtrail list-public-keys` output, to
                                    #  check the digests (live from CloudTrail for s3:// logs)

    [aws]
    profile = "..."                 # default none
    region = "eu-west-1"            # default none: AWS_REGION, AWS_DEFAULT_REGION, the profile's
    ecs_regions = []                # regions whose task definitions to read live (default:
                                    #  region); e.g. ["eu-west-1", "us-east-1"]
    endpoint_url = "https://..."    # default none; http:// or https://
    accounts = []                   # member accounts whose IAM and ECS are read live, each
                                    #  through assume_role; e.g. ["111122223333"]
    organization = false            # with assume_role: every active account of the organization
    assume_role = "rightsizer-read" # default none: the read-only role in each member account

    [athena]
    workgroup = "primary"           # default "primary"
    output_location = "s3://results/rightsizer/"  # default none (the workgroup's); s3:// only
    region = "eu-west-1"            # default none: aws.region
    price_per_tb = 5.0              # USD per TB scanned, > 0; default 5.0
    concurrency = 4                 # queries in flight (one per account), 1..20; default 4
    # for `rightsizer athena setup` (the table DDL):
    bucket = "org-trail-bucket"     # the trail's bucket name (no s3://); default none
    prefix = ""                     # key prefix before AWSLogs/ (no leading /); default ""
    layout = "account"              # "organization" (AWSLogs/o-.../ACCOUNT/) or "account"
    organization_id = "o-abc123defg"  # default none; o-[a-z0-9]{10,32}; setup needs it when
                                    #  layout = "organization" (loading does not)
    accounts = []                   # 12-digit account ids, as strings
    regions = []                    # the regions the trail logs, e.g. ["eu-west-1", "us-east-1"]
    projection_start = 2024-01-01   # first day of the partition projection; default none
    principals = []                 # role ARNs to include besides those ECS was seen assuming

    [window]
    days = 90                       # trailing window length, whole days >= 1; ignored with since
    since = 2026-09-01              # default none: first day (UTC)
    until = 2026-11-27              # default none (today): last day, inclusive; since <= until

    [store]
    path = "rightsizer.duckdb"      # the DuckDB store

    [output]
    folder = "out"                  # the output folder
    dated = false                   # true: each run in FOLDER/<UTC stamp like 2026-11-28T2103Z>/
                                    #  and FOLDER/latest pointing at it
    keep = 0                        # dated runs to keep (older ones deleted); 0 keeps all

    [run]
    workers = 4                     # reader processes, 1..64; default none (one per core)
    pdf = false                     # also print report.pdf
    fail_on_findings = false        # exit 3 when a role has findings at findings.fail_on or worse
    require_valid_logs = false      # exit 4 when log files failed integrity validation

    [logging]
    format = "text"                 # "text" or "json"
    level = "warning"               # debug, info, warning or error

    [analysis]
    min_window_days = 30            # a shorter observation window is flagged on every role (>= 0)

    [findings]
    fail_on = "high"                # critical, high, medium, low or info: the severity at which
                                    #  fail_on_findings exits 3

    [[exclusions]]                  # keep these actions whatever the evidence says (file only)
    action = "kms:Decrypt"          # IAM action pattern
    role = "payments-*"             # role name or ARN pattern (default: every role)
    reason = "quarterly key rotation job"
    expires = 2027-03-31            # optional: after this day the exclusion no longer applies

    [[trails]]                      # what the account's trails record (file only; default: one
    name = "org-trail"              #  trail with all management events and no data events, and
    management_events = "all"       #  the report says it was assumed)
    exclude_sources = ["kms.amazonaws.com"]
    data_events = ["AWS::S3::Object"]

Environment (only with ``env=``; the CLI passes ``os.environ``): every key of every section above
except ``[[exclusions]]`` and ``[[trails]]`` (which are file only) is ``RIGHTSIZER_<SECTION>_<KEY>``
upper-cased: ``RIGHTSIZER_SOURCES_LOGS``, ``RIGHTSIZER_WINDOW_DAYS``,
``RIGHTSIZER_ANALYSIS_MIN_WINDOW_DAYS``, ``RIGHTSIZER_ATHENA_OUTPUT_LOCATION``, ... Lists are
comma-separated (whitespace around items stripped, empty items dropped), booleans are true/false,
1/0, yes/no or on/off, dates YYYY-MM-DD. A variable that is empty (or a list with no items) counts
as not set. ``RIGHTSIZER_CONFIG`` names the file when no path is given, ``RIGHTSIZER_CHROMIUM`` is
read by the PDF printer; any other unknown ``RIGHTSIZER_*`` variable is an error.

Flags (``flags=``): dotted keys (``"window.since"``, ``"store.path"``, ...) with values as click
types them (str, int, float, bool, date or datetime, tuple of str); None, or an empty tuple for a
list, means the flag was not given. ``SETTING_KEYS`` is the table of every key: section, name,
type, default, the rule, the environment variable and the flag that messages name.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rightsizer.sources.accounts import Members

from rightsizer.analysis.findings import Severity
from rightsizer.analysis.verdicts import Exclusion
from rightsizer.errors import ConfigError
from rightsizer.iam.observability import TrailSettings, settings_from_config
from rightsizer.settings_keys import ENV_PREFIX, SETTING_KEYS, SettingKey

__all__ = [
    "ENV_PREFIX",
    "SETTING_KEYS",
    "AthenaSettings",
    "AwsSettings",
    "LoggingSettings",
    "OutputSettings",
    "RunSettings",
    "SettingKey",
    "Settings",
    "SourcesSettings",
    "StoreSettings",
    "WindowSettings",
    "env_variables",
    "load_settings",
]

CONFIG_ENV = "RIGHTSIZER_CONFIG"
# RIGHTSIZER_* variables that are not settings but are read elsewhere (report/pdf.py).
_OTHER_ENV = frozenset({CONFIG_ENV, "RIGHTSIZER_CHROMIUM"})


# -- the sections -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourcesSettings:
    logs: tuple[str, ...] = ()
    athena: tuple[str, ...] = ()
    iam: str | None = None
    ecs: str | None = None
    trail: tuple[str, ...] = ()
    public_keys: str | None = None
    last_accessed: str | None = None


@dataclass(frozen=True, slots=True)
class AwsSettings:
    profile: str | None = None
    region: str | None = None
    ecs_regions: tuple[str, ...] = ()
    endpoint_url: str | None = None
    accounts: tuple[str, ...] = ()  # member accounts read live (with --iam/--ecs aws)
    organization: bool = False  # every active account of the organization
    assume_role: str | None = None  # the role assumed in each member account

    def members(self) -> Members:
        """The member accounts to read live, as the sources take them."""
        from rightsizer.sources.accounts import Members

        return Members(accounts=self.accounts, organization=self.organization,
                       assume_role=self.assume_role)


@dataclass(frozen=True, slots=True)
class AthenaSettings:
    workgroup: str = "primary"
    output_location: str | None = None
    region: str | None = None
    price_per_tb: float = 5.0
    concurrency: int = 4
    bucket: str | None = None
    prefix: str = ""
    layout: str = "account"
    organization_id: str | None = None
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    projection_start: date | None = None
    principals: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowSettings:
    days: int = 90
    since: date | None = None
    until: date | None = None

    def bounds(self, today: date) -> tuple[date, date]:
        """(first day, last day inclusive): see ``Settings.window_bounds``."""
        until = self.until if self.until is not None else today
        since = self.since if self.since is not None else until - timedelta(days=self.days - 1)
        if since > until:
            raise ConfigError(f"window.since {since} is after the last day of the window, {until}")
        return since, until


@dataclass(frozen=True, slots=True)
class StoreSettings:
    path: str = "rightsizer.duckdb"


@dataclass(frozen=True, slots=True)
class OutputSettings:
    folder: str = "out"
    dated: bool = False
    keep: int = 0


@dataclass(frozen=True, slots=True)
class RunSettings:
    workers: int | None = None
    pdf: bool = False
    fail_on_findings: bool = False
    require_valid_logs: bool = False


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    format: str = "text"
    level: str = "warning"



_KEYS = {key.dotted: key for key in SETTING_KEYS}
_ENV_KEYS = {key.env: key for key in SETTING_KEYS}
# The sections of the file: a table of SETTING_KEYS keys, or an array of tables ([[...]]).
_TABLE_SECTIONS: dict[str, tuple[str, ...]] = {}
for _key in SETTING_KEYS:
    _TABLE_SECTIONS.setdefault(_key.section, ())
    _TABLE_SECTIONS[_key.section] += (_key.name,)
del _key
_ARRAY_SECTIONS: dict[str, tuple[str, ...] | None] = {
    "exclusions": ("action", "role", "reason", "expires"),
    "trails": None,  # settings_from_config checks the keys
}
# Sections that are fields of Settings (the others are top-level fields, below).
_NESTED = {"sources": SourcesSettings, "aws": AwsSettings, "athena": AthenaSettings,
           "window": WindowSettings, "store": StoreSettings, "output": OutputSettings,
           "run": RunSettings, "logging": LoggingSettings}
_TOP_LEVEL = {"analysis.min_window_days": "min_window_days", "findings.fail_on": "fail_on"}


def env_variables() -> tuple[str, ...]:
    """Every settings environment variable (RIGHTSIZER_CONFIG aside), sorted."""
    return tuple(sorted(_ENV_KEYS))


def _default_origins() -> Mapping[str, str]:
    return MappingProxyType({**{k: "default" for k in sorted(_KEYS)},
                             "exclusions": "default", "trails": "default"})


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective settings; see the module docstring for every key."""

    min_window_days: float = 30.0
    exclusions: tuple[Exclusion, ...] = ()
    trails: tuple[TrailSettings, ...] = ()  # empty: assume the default trail
    fail_on: Severity = Severity.HIGH
    source: str = "defaults"  # the file's path, or "defaults"
    notes: tuple[str, ...] = field(default=())
    sources: SourcesSettings = field(default_factory=SourcesSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)
    athena: AthenaSettings = field(default_factory=AthenaSettings)
    window: WindowSettings = field(default_factory=WindowSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    run: RunSettings = field(default_factory=RunSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    # dotted key -> "default" | the file's path | "env RIGHTSIZER_X" | "flag"
    origins: Mapping[str, str] = field(default_factory=_default_origins, hash=False)

    def value(self, key: str) -> Any:
        """The effective value of a dotted key ("window.days", "findings.fail_on")."""
        if key in _TOP_LEVEL:
            return getattr(self, _TOP_LEVEL[key])
        if key not in _KEYS:
            raise KeyError(key)
        section, name = key.split(".")
        return getattr(getattr(self, section), name)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Every key's effective value (JSON types: dates as YYYY-MM-DD, lists) and origin."""
        out: dict[str, dict[str, Any]] = {}
        for key in sorted(_KEYS):
            value = self.value(key)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Severity):
                value = value.value
            out[key] = {"value": value, "origin": self.origins.get(key, "default")}
        return out

    @property
    def athena_region(self) -> str | None:
        """The region Athena runs in: athena.region, else aws.region."""
        return self.athena.region or self.aws.region

    def window_bounds(self, today: date) -> tuple[date, date]:
        """(first day, last day inclusive) of the observation window.

        window.since/until when given; until defaults to ``today`` (today's events are partial but
        included) and since to ``until - (days - 1)``. ConfigError when since is after until."""
        try:
            return self.window.bounds(today)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (window.since from {self.origins.get('window.since')})"
                              ) from None


# -- loading ------------------------------------------------------------------------------------


class _Bad(Exception):
    """A value that does not fit; ``text`` follows the layer's name ("must be ..., not 0")."""

    def __init__(self, text: str, *, item: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.item = item


@dataclass(frozen=True, slots=True)
class _Layer:
    kind: str  # "file" | "env" | "flag"
    origin: str  # what Settings.origins records
    path: str = ""

    def where(self, key: SettingKey) -> str:
        """How a message names the key in this layer."""
        if self.kind == "file":
            return f"{self.path}: {key.dotted}"
        return key.env if self.kind == "env" else key.flag_name

    def error(self, key: SettingKey, bad: _Bad) -> ConfigError:
        if self.kind == "file":
            return ConfigError(f"{self.where(key)}{': ' if bad.item else ' '}{bad.text}")
        return ConfigError(f"{self.where(key)}: {bad.text}")

    def label(self, key: SettingKey, value: object) -> str:
        """The key and its value in a cross-field message."""
        if self.kind == "flag":
            return f"{key.flag_name} {value}"
        if self.kind == "env":
            return f"{key.env}={value}"
        return f"{key.dotted} {value} ({self.path})"


_DEFAULT = _Layer("default", "default")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INT = re.compile(r"[+-]?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _must(key: SettingKey) -> str:
    if key.kind == "choice":
        return f"one of {', '.join(key.choices)}"
    if key.kind == "list":
        return "a list of strings"
    return key.must


def _not(key: SettingKey, raw: object) -> _Bad:
    return _Bad(f"must be {_must(key)}, not {raw!r}")


def _from_file(key: SettingKey, raw: object) -> object:
    """A TOML value, strictly typed."""
    kind = key.kind
    if kind in ("str", "choice"):
        ok = isinstance(raw, str)
    elif kind == "list":
        ok = isinstance(raw, list) and all(isinstance(item, str) for item in raw)
        raw = tuple(raw) if ok else raw  # type: ignore[arg-type]
    elif kind == "bool":
        ok = isinstance(raw, bool)
    elif kind == "int":
        ok = isinstance(raw, int) and not isinstance(raw, bool)
    elif kind == "float":
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)
    else:  # date
        ok = isinstance(raw, date) and not isinstance(raw, datetime)
    if not ok:
        raise _not(key, raw)
    return float(raw) if kind == "float" else raw  # type: ignore[arg-type]


def _from_text(key: SettingKey, text: str) -> object:
    """An environment variable's (stripped, non-empty) text."""
    kind = key.kind
    if kind in ("str", "choice"):
        return text
    if kind == "list":
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if kind == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _Bad(f"must be true or false (or 1/0, yes/no, on/off), not {text!r}")
    if kind == "int":
        if _INT.fullmatch(text):
            return int(text)
        raise _not(key, text)
    if kind == "float":
        try:
            number = float(text)
        except ValueError:
            raise _not(key, text) from None
        if not math.isfinite(number):
            raise _not(key, text)
        return number
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise _Bad(f"must be a date (YYYY-MM-DD), not {text!r}")


def _from_flag(key: SettingKey, raw: object) -> object:
    """A flag's value as click types it (a str is read like an environment variable)."""
    kind = key.kind
    if isinstance(raw, str) and kind not in ("str", "choice", "list"):
        return _from_text(key, raw.strip())
    if kind == "list":
        if isinstance(raw, str):
            return (raw,)
        if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
            return tuple(raw)
        raise _not(key, raw)
    if kind == "date" and isinstance(raw, datetime):
        return raw.date()
    return _from_file(key, raw)


def _check(key: SettingKey, value: Any) -> Any:
    """The value after the key's rule; _Bad if it breaks it."""
    if key.kind == "choice":
        lowered = value.lower()
        if lowered not in key.choices:
            raise _not(key, value)
        return lowered
    if key.check is None:
        return value
    if key.kind == "list":
        for item in value:
            if not key.check(item):
                raise _Bad(f"{item!r} is not {key.must}", item=True)
        return value
    if not key.check(value):
        raise _not(key, value)
    return value


def _read(layer: _Layer, key: SettingKey, raw: object) -> object:
    try:
        if layer.kind == "file":
            value = _from_file(key, raw)
        elif layer.kind == "env":
            value = _from_text(key, str(raw))
        else:
            value = _from_flag(key, raw)
        return _check(key, value)
    except _Bad as bad:
        raise layer.error(key, bad) from None


def load_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Settings:
    """``path`` (or ``$RIGHTSIZER_CONFIG``), then ``env``, then ``flags``, over the defaults.

    ``env=None`` means no environment layer (os.environ is never read implicitly). Flags are keyed
    by dotted setting name; a None value, or an empty tuple for a list, means not given. An unknown
    flag key is a programming error (ValueError). ConfigError names the layer and the key."""
    env_values = _environment(env)
    env_layer_path: str | None = None
    if path is None and env is not None and (env.get(CONFIG_ENV) or "").strip():
        path, env_layer_path = Path(env[CONFIG_ENV].strip()), CONFIG_ENV
    data = _load_file(path, env_layer_path) if path is not None else {}
    file_layer = _Layer("file", str(path), str(path))

    flag_values: dict[str, object] = {}
    for name, raw in (flags or {}).items():
        if name not in _KEYS:
            raise ValueError(f"unknown setting {name!r} in flags "
                             f"(known: {', '.join(sorted(_KEYS))})")
        if raw is None or (_KEYS[name].kind == "list" and isinstance(raw, list | tuple)
                           and not raw):
            continue
        flag_values[name] = raw

    effective: dict[str, tuple[object, _Layer]] = {}
    for key in SETTING_KEYS:
        chosen: tuple[object, _Layer] = (key.default, _DEFAULT)
        table = data.get(key.section, {})
        if key.name in table:
            chosen = (_read(file_layer, key, table[key.name]), file_layer)
        if key.env in env_values:
            layer = _Layer("env", f"env {key.env}")
            value = _read(layer, key, env_values[key.env])
            if not (key.kind == "list" and not value):  # no items: not set
                chosen = (value, layer)
        if key.dotted in flag_values:
            chosen = (_read(_Layer("flag", "flag"), key, flag_values[key.dotted]),
                      _Layer("flag", "flag"))
        effective[key.dotted] = chosen

    notes = _cross_checks(effective)
    exclusions = tuple(_exclusion(path, n, e)
                       for n, e in enumerate(_tables(path, data, "exclusions"), start=1))
    trails = []
    for number, entry in enumerate(_tables(path, data, "trails"), start=1):
        try:
            trails.append(settings_from_config({"name": f"trail {number}", **entry}))
        except ConfigError as exc:
            raise ConfigError(f"{path}: [[trails]] {number}: {exc}") from exc

    sections: dict[str, dict[str, object]] = {name: {} for name in _NESTED}
    top: dict[str, Any] = {}
    for dotted, (value, _layer) in effective.items():
        if dotted in _TOP_LEVEL:
            top[_TOP_LEVEL[dotted]] = value
        else:
            section, name = dotted.split(".")
            sections[section][name] = value
    origins = {dotted: layer.origin for dotted, (_value, layer) in sorted(effective.items())}
    for name in ("exclusions", "trails"):
        origins[name] = str(path) if name in data else "default"
    return Settings(
        min_window_days=float(top["min_window_days"]),
        exclusions=exclusions,
        trails=tuple(trails),
        fail_on=Severity(top["fail_on"]),
        source=str(path) if path is not None else "defaults",
        notes=notes,
        origins=MappingProxyType(origins),
        **{name: cls(**sections[name]) for name, cls in _NESTED.items()},  # type: ignore[arg-type]
    )


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """The settings variables of ``env`` that are set (non-empty), stripped."""
    if env is None:
        return {}
    values = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in _OTHER_ENV:
            continue
        if name not in _ENV_KEYS:
            raise ConfigError(f"{name}: unknown environment variable "
                              f"(known: {', '.join(env_variables())})")
        if value.strip():
            values[name] = value.strip()
    return values


def _load_file(path: Path, named_by: str | None) -> dict[str, Any]:
    """The TOML of ``path`` with its sections and keys checked against the table."""
    via = f" (from {named_by})" if named_by else ""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file{via}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it{via}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    known_sections = sorted({*_TABLE_SECTIONS, *_ARRAY_SECTIONS})
    for section, value in data.items():
        if section in _TABLE_SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            keys: tuple[str, ...] | None = _TABLE_SECTIONS[section]
            entries = [value]
        elif section in _ARRAY_SECTIONS:
            if not isinstance(value, list):
                raise ConfigError(f"{path}: {section} must be an array of tables ([[{section}]])")
            keys, entries = _ARRAY_SECTIONS[section], value
        else:
            raise ConfigError(f"{path}: unknown section [{section}] "
                              f"(known: {', '.join(known_sections)})")
        for entry in entries:
            if not isinstance(entry, dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            unknown = set(entry) - set(keys) if keys is not None else set()
            if unknown:
                raise ConfigError(f"{path}: unknown key(s) in [{section}]: "
                                  f"{', '.join(sorted(unknown))} "
                                  f"(known: {', '.join(sorted(keys or ()))})")
    return data


def _cross_checks(effective: Mapping[str, tuple[object, _Layer]]) -> tuple[str, ...]:
    """Checks across keys, on the merged result; the notes to keep."""
    since, since_layer = effective["window.since"]
    until, until_layer = effective["window.until"]
    if isinstance(since, date) and isinstance(until, date) and since > until:
        if since_layer.kind == until_layer.kind == "file":
            raise ConfigError(f"{since_layer.path}: window.since {since} is after "
                              f"window.until {until}")
        raise ConfigError(f"{since_layer.label(_KEYS['window.since'], since)} is after "
                          f"{until_layer.label(_KEYS['window.until'], until)}")
    notes = []
    days_layer = effective["window.days"][1]
    if since is not None and days_layer.kind != "default":
        notes.append(f"window.days (from {days_layer.origin}) is ignored: window.since is set "
                     f"(from {since_layer.origin})")
    return tuple(notes)


def _tables(path: Path | None, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {name} must be an array of tables ([[{name}]])")
    return value


def _exclusion(path: Path | None, number: int, entry: dict[str, Any]) -> Exclusion:
    where = f"{path}: [[exclusions]] {number}"
    action, role, reason = entry.get("action"), entry.get("role", "*"), entry.get("reason")
    if not isinstance(action, str) or (":" not in action and action != "*"):
        raise ConfigError(f"{where}: action must be an IAM action pattern like 'kms:Decrypt'")
    if not isinstance(role, str) or not role:
        raise ConfigError(f"{where}: role must be a role name or ARN pattern")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: every exclusion needs a reason")
    expires = entry.get("expires")
    if expires is not None and (not isinstance(expires, date) or isinstance(expires, datetime)):
        raise ConfigError(f"{where}: expires must be a date (2027-03-31)")
    return Exclusion(action=action, role=role, reason=reason.strip(), expires=expires)
