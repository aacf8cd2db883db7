"""What the trails recorded, for ``run``: given (``--trail`` files, ``[[trails]]``), read live
(``--trail aws``, and by default with ``--iam aws``), set by ``PutEventSelectors`` calls in the
logs, or inferred from the logs' own data events, in that order; with the contradictions between
given settings and the logs, and the changes to trails the logs show."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rightsizer.pipeline.inventory import LIVE
from rightsizer.sources.aws import AwsOptions
from rightsizer.store.records import DataEventSeen, TrailEvent

if TYPE_CHECKING:
    from rightsizer.iam.observability import TrailSettings
    from rightsizer.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrailEvidence:
    trails: tuple[TrailSettings, ...]
    origin: str  # given | live | trail events | inferred
    warnings: tuple[str, ...]  # given settings the logs contradict
    changes: tuple[dict[str, str], ...]  # PutEventSelectors, StopLogging, ... in the logs


def trail_evidence(settings: Settings, trail_files: Sequence[str | Path], iam: str | Path,
                   aws: AwsOptions | None, seen: Sequence[DataEventSeen],
                   events: Sequence[TrailEvent], since: datetime | None) -> TrailEvidence:
    from rightsizer.analysis.trail_inference import (
        contradictions,
        infer_trail_settings,
        settings_from_trail_events,
    )
    from rightsizer.sources.trail import fetch_trail_settings, load_trail_settings_file

    trails: list[TrailSettings] = list(settings.trails)
    live = any(str(path) == LIVE for path in trail_files)
    for path in trail_files:
        if str(path) != LIVE:
            trails.extend(load_trail_settings_file(Path(path)))
    origin = "given"
    if live or (not trails and str(iam) == LIVE):
        trails.extend(fetch_trail_settings(aws or AwsOptions()))
        origin = "live"
    from_events, changes = settings_from_trail_events(events)
    if since is not None:
        first = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        changes = [c for c in changes if c["time"] >= first]
    if not trails and from_events:
        trails, origin = from_events, "trail events"
    warnings: list[str] = []
    if trails:
        warnings = contradictions(trails, seen)
        for warning in warnings:
            log.warning("%s", warning)
    else:
        trails, origin = [infer_trail_settings(seen, management=True)], "inferred"
    return TrailEvidence(tuple(trails), origin, tuple(warnings), tuple(changes))
