"""Where trail settings come from: a JSON file, or the account's trails through the CloudTrail API.

Whether "not seen in CloudTrail" can mean "unused" depends on what the trails record
(``rightsizer.iam.observability``). The settings are read from:

- a file: the output of ``aws cloudtrail get-event-selectors --trail-name ...`` as is, a list of
  such outputs, or ``{"trails": [...]}``. Each may hold ``TrailARN`` (it names the trail and its
  home region) and, if merged in from ``describe-trails``, ``Name``, ``IsMultiRegionTrail`` and
  ``HomeRegion``;
- the API: ``DescribeTrails`` with ``includeShadowTrails=True`` (so multi-region and organization
  trails created elsewhere count; CloudTrail API reference, DescribeTrails), then
  ``GetEventSelectors`` per trail, asked in the trail's home region, where the trail lives.

A file that cannot be read is a ConfigError naming the file; an AWS error is a SourceError naming
the trail and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from rightsizer.errors import ConfigError, SourceError
from rightsizer.iam.observability import TrailSettings, parse_event_selectors
from rightsizer.sources.aws import AwsOptions, make_aws_client, source_error

__all__ = ["fetch_trail_settings", "load_trail_settings_file"]


def _trail_name(document: Mapping[str, Any], fallback: str) -> str:
    name = document.get("Name")
    if isinstance(name, str) and name:
        return name
    arn = document.get("TrailARN")
    if isinstance(arn, str) and "trail/" in arn:
        return arn.rsplit("trail/", 1)[1]
    return fallback


def load_trail_settings_file(path: Path) -> tuple[TrailSettings, ...]:
    """Every trail a settings file describes (see the module docstring for the shapes)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"trail settings file {path}: {exc.strerror or exc}") from exc
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"trail settings file {path}: not JSON: {exc}") from exc
    if isinstance(document, Mapping) and "trails" in document:
        document = document["trails"]
    documents = document if isinstance(document, list) else [document]
    if not documents:
        raise ConfigError(f"trail settings file {path}: no trails in it")
    settings = []
    for number, item in enumerate(documents, start=1):
        where = f"file {path}" if len(documents) == 1 else f"file {path} (trail {number})"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: each trail must be a get-event-selectors object")
        name = _trail_name(item, path.stem if len(documents) == 1 else f"{path.stem}#{number}")
        settings.append(parse_event_selectors(item, name=name, source=where))
    return tuple(settings)


def fetch_trail_settings(
    options: AwsOptions, trail_names: Sequence[str] | None = None
) -> tuple[TrailSettings, ...]:
    """The settings of the account's trails (or of the named ones: names or ARNs), sorted by ARN.

    An account without trails gives ``()``: then no call was recorded at all."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = make_aws_client("cloudtrail", options)
    kwargs: dict[str, Any] = {"includeShadowTrails": True}
    if trail_names:
        kwargs["trailNameList"] = list(trail_names)
    try:
        trails = client.describe_trails(**kwargs).get("trailList", [])
    except (ClientError, BotoCoreError) as exc:
        raise source_error("CloudTrail DescribeTrails", exc, options) from exc
    by_arn = {t["TrailARN"]: t for t in trails if isinstance(t.get("TrailARN"), str)}
    if trail_names:
        # Keep only what was asked for (moto adds shadow trails regardless), and say what is
        # missing: a trail the user named must not silently count as "records nothing".
        wanted = set(trail_names)
        by_arn = {a: t for a, t in by_arn.items() if a in wanted or t.get("Name") in wanted}
        found = set(by_arn) | {t.get("Name") for t in by_arn.values()}
        missing = sorted(wanted - found)
        if missing:
            raise SourceError(f"CloudTrail trail(s) not found: {', '.join(missing)}")
    clients = {options.region: client}
    settings = []
    for arn, trail in sorted(by_arn.items()):
        home = trail.get("HomeRegion") or options.region
        if home not in clients:  # a shadow trail answers in its home region
            clients[home] = make_aws_client("cloudtrail", replace(options, region=home))
        try:
            document = clients[home].get_event_selectors(TrailName=arn)
        except (ClientError, BotoCoreError) as exc:
            raise source_error(f"CloudTrail trail {arn} (GetEventSelectors)", exc,
                               options) from exc
        try:
            settings.append(
                parse_event_selectors(
                    document,
                    name=trail.get("Name") or _trail_name({"TrailARN": arn}, arn),
                    source=f"trail {arn}",
                    multi_region=bool(trail.get("IsMultiRegionTrail", False)),
                    home_region=home,
                )
            )
        except ConfigError as exc:  # AWS answered something this version cannot read
            raise SourceError(str(exc)) from exc
    return tuple(settings)
