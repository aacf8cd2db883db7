"""Settings of an analysis run: one frozen object, read from TOML and validated once.

``rightsizer run --config FILE`` reads:

    [analysis]
    min_window_days = 30            # a shorter observation window is flagged on every role

    [[exclusions]]                  # keep these actions whatever the evidence says
    action = "kms:Decrypt"          # IAM action pattern
    role = "payments-*"             # role name or ARN pattern (default: every role)
    reason = "quarterly key rotation job"
    expires = 2027-03-31            # optional: after this day the exclusion no longer applies

    [[trails]]                      # what the account's trails record (default: one trail with
    name = "org-trail"              #  all management events and no data events, and the report
    management_events = "all"       #  says it was assumed)
    exclude_sources = ["kms.amazonaws.com"]
    data_events = ["AWS::S3::Object"]

    [findings]
    fail_on = "high"                # with --fail-on-findings: exit 3 at this severity or worse

Unknown sections or keys are errors (a typo must not silently change a policy).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rightsizer.analysis.findings import Severity
from rightsizer.analysis.verdicts import Exclusion
from rightsizer.errors import ConfigError
from rightsizer.iam.observability import TrailSettings, settings_from_config

__all__ = ["Settings", "load_settings"]

_SECTIONS = {"analysis": {"min_window_days"}, "exclusions": {"action", "role", "reason",
                                                              "expires"},
             "trails": None, "findings": {"fail_on"}}


@dataclass(frozen=True, slots=True)
class Settings:
    min_window_days: float = 30.0
    exclusions: tuple[Exclusion, ...] = ()
    trails: tuple[TrailSettings, ...] = ()  # empty: assume the default trail
    fail_on: Severity = Severity.HIGH
    source: str = "defaults"
    notes: tuple[str, ...] = field(default=())


def load_settings(path: Path | None) -> Settings:
    """The settings in ``path`` over the defaults; ConfigError names the file and the key."""
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for section, value in data.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}] "
                              f"(known: {', '.join(sorted(_SECTIONS))})")
        keys = _SECTIONS[section]
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if not isinstance(entry, dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            unknown = set(entry) - keys if keys is not None else set()
            if unknown:
                raise ConfigError(f"{path}: unknown key(s) in [{section}]: "
                                  f"{', '.join(sorted(unknown))}")
    analysis = data.get("analysis", {})
    window = analysis.get("min_window_days", 30)
    if not isinstance(window, int | float) or isinstance(window, bool) or window < 0:
        raise ConfigError(f"{path}: analysis.min_window_days must be a number >= 0")
    exclusions = tuple(_exclusion(path, n, e)
                       for n, e in enumerate(_tables(path, data, "exclusions"), start=1))
    trails = []
    for number, entry in enumerate(_tables(path, data, "trails"), start=1):
        try:
            trails.append(settings_from_config({"name": f"trail {number}", **entry}))
        except ConfigError as exc:
            raise ConfigError(f"{path}: [[trails]] {number}: {exc}") from exc
    fail_on = data.get("findings", {}).get("fail_on", "high")
    try:
        severity = Severity(str(fail_on).lower())
    except ValueError:
        raise ConfigError(f"{path}: findings.fail_on must be one of "
                          f"{', '.join(s.value for s in Severity)}, not {fail_on!r}") from None
    return Settings(min_window_days=float(window), exclusions=exclusions, trails=tuple(trails),
                    fail_on=severity, source=str(path))


def _tables(path: Path, data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {name} must be an array of tables ([[{name}]])")
    return value


def _exclusion(path: Path, number: int, entry: dict[str, Any]) -> Exclusion:
    where = f"{path}: [[exclusions]] {number}"
    action, role, reason = entry.get("action"), entry.get("role", "*"), entry.get("reason")
    if not isinstance(action, str) or (":" not in action and action != "*"):
        raise ConfigError(f"{where}: action must be an IAM action pattern like 'kms:Decrypt'")
    if not isinstance(role, str) or not role:
        raise ConfigError(f"{where}: role must be a role name or ARN pattern")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{where}: every exclusion needs a reason")
    expires = entry.get("expires")
    if expires is not None and not isinstance(expires, date):
        raise ConfigError(f"{where}: expires must be a date (2027-03-31)")
    return Exclusion(action=action, role=role, reason=reason.strip(), expires=expires)
