"""Ingest's part of log file integrity validation: the digest files beside the logs are read
and kept in the store (they hold no events), so that ``run`` can check the logs it used against
them. Local folders and S3 prefixes alike; a digest already stored as it is now is not read
again."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import Any

from rightsizer.errors import SourceError
from rightsizer.sources import digests
from rightsizer.sources.locate import Scope
from rightsizer.sources.s3 import S3Options
from rightsizer.store.database import BadFile, Store

log = logging.getLogger(__name__)

__all__ = ["ingest_digests"]

_BATCH = 500
_COLUMNS = tuple(f.name for f in fields(digests.DigestFile) if f.name != "log_files")


def ingest_digests(folders: Iterable[str], store: Store, scope: Scope,
                   s3_options: S3Options | None, run_id: str) -> tuple[int, list[BadFile]]:
    """Read the digest files under ``folders`` (local ``CloudTrail-Digest/`` folders or
    ``s3://`` prefixes) that the scope selects and the store does not hold as they are;
    return how many were read, and the folders or files that could not be."""
    read = 0
    bad: list[BadFile] = []
    client = None
    for folder in dict.fromkeys(folders):
        if folder.startswith("s3://"):
            from rightsizer.sources import s3

            client = client or s3.make_client(s3_options or S3Options())
            listing = _guarded(digests.s3_digests(client, folder, scope), folder, bad)
        else:
            listing = digests.local_digests(folder.rstrip("/"), scope)
        batch: list[tuple[str, str]] = []
        for item in listing:
            batch.append(item)
            if len(batch) >= _BATCH:
                read += _read(batch, store, client, bad, run_id)
                batch = []
        read += _read(batch, store, client, bad, run_id)
    return read, bad


def _read(batch: list[tuple[str, str]], store: Store, client: Any, bad: list[BadFile],
          run_id: str) -> int:
    done = store.digests_read(batch)
    rows = []
    failed: list[BadFile] = []
    for uri, fingerprint in batch:
        if uri in done:
            continue
        try:
            digest = (digests.read_s3_digest(client, uri, fingerprint) if uri.startswith("s3://")
                      else digests.read_local_digest(uri, fingerprint))
        except Exception as exc:  # botocore's errors: named, and the next digest is read
            from rightsizer.sources.aws import describe_aws_error

            failed.append(BadFile(uri, f"cannot read the digest: {describe_aws_error(exc)}"))
            continue
        if digest.problem:
            failed.append(BadFile(uri, digest.problem, fingerprint))
        # Field by field: dataclasses.asdict deep-copies, a third of the time on 4,000 digests.
        row = {name: getattr(digest, name) for name in _COLUMNS}
        row["log_files"] = [{"key": f.key, "bucket": f.bucket, "sha256": f.sha256}
                            for f in digest.log_files]
        rows.append(row)
    store.record_digests(rows)
    store.record_bad(failed, run_id)
    bad.extend(failed)
    return len(rows)


def _guarded(listing: Iterator[tuple[str, str]], folder: str,
             bad: list[BadFile]) -> Iterator[tuple[str, str]]:
    """A listing that stops, naming the folder, where S3 refuses it."""
    try:
        yield from listing
    except Exception as exc:
        from rightsizer.sources.aws import describe_aws_error

        error = SourceError(f"{folder}: cannot list the digests: {describe_aws_error(exc)}")
        log.error("%s", error)
        bad.append(BadFile(folder, str(error)))
