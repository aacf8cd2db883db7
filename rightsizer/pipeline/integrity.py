"""The run's log integrity check: the digests and file hashes the store holds over the window,
CloudTrail's public keys (a file, or live when the logs come from S3), and the check itself
(analysis/integrity.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from rightsizer.analysis.integrity import IntegrityReport, check_integrity
from rightsizer.errors import RightsizerError
from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.locate import parse_layout
from rightsizer.store.database import Store
from rightsizer.store.records import StoredDigest

log = logging.getLogger(__name__)

__all__ = ["log_integrity"]

# Digests are written about an hour after the files they list, and a file after its events.
_SLACK = timedelta(days=1)


def log_integrity(db: str | Path, logs: Sequence[str], public_keys: str | None,
                  aws: AwsOptions | None, start: datetime, end: datetime
                  ) -> IntegrityReport | None:
    """The status of each log file the window's events came from; None when none did (an
    Athena-only run: Athena reads the files, rightsizer never sees them)."""
    with Store(db, read_only=True) as store:
        used = store.files_used(start, end)
        if not used:
            return None
        digests = store.digests_between(start - _SLACK, end + _SLACK)
        read = store.files_read()
    keys = _public_keys(public_keys, logs, aws, digests, start, end)
    return check_integrity(digests, used, read, keys, (start, end))


def _public_keys(path: str | None, logs: Sequence[str], aws: AwsOptions | None,
                 digests: Sequence[StoredDigest], start: datetime, end: datetime
                 ) -> dict[str, bytes] | None:
    from rightsizer.sources.public_keys import fetch_public_keys, load_public_keys

    if path:
        return load_public_keys(path)
    if not any(source.startswith("s3://") for source in logs) or not digests:
        return None
    keys: dict[str, bytes] = {}
    regions = sorted({parse_layout(d.digest_key).region or "" for d in digests} - {""})
    for region in regions:
        try:
            keys.update(fetch_public_keys(replace(aws or AwsOptions(), region=region),
                                          start - _SLACK, end + _SLACK))
        except RightsizerError as exc:
            # Without one region's keys its digests would all look forged: check none.
            log.warning("CloudTrail's public keys for %s could not be read, so no digest's "
                        "signature is checked: %s", region, exc)
            return None
    return keys or None
