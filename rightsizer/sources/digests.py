"""CloudTrail digest files: what log file integrity validation reads. They hold no events.

With log file validation on, CloudTrail writes a digest file every hour per account and region,
under ``AWSLogs/[o-ORG/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/``: the SHA-256 of each log
file it delivered in the hour (of the uncompressed content), the previous digest's object, hash
and signature (a chain), and the fingerprint of the key that signed it. Its own signature (hex,
SHA256withRSA) is not in the file but in the S3 object's metadata, ``x-amz-meta-signature``:
local copies lose it, and then the next digest's ``previousDigestSignature`` is the only place it
is still written.

Sources:
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html
and the AWS CLI's own implementation of ``aws cloudtrail validate-logs``
(awscli/customizations/cloudtrail/validation.py).

A digest that cannot be read (not gzip, not JSON, fields missing) is still returned, with the
``problem``: a missing or damaged digest is evidence too.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from rightsizer.sources.locate import DeliveryFolder, Scope, folder_fingerprint, parse_layout
from rightsizer.timestamps import parse_utc

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["DigestFile", "layout_key", "local_digests", "parse_digest", "read_local_digest",
           "read_s3_digest", "s3_digests"]

DIGEST_FOLDER = "CloudTrail-Digest"
# The fields without which a digest cannot be validated (the AWS CLI's list).
_REQUIRED = ("digestPublicKeyFingerprint", "digestS3Bucket", "digestS3Object",
             "previousDigestSignature", "digestEndTime", "digestStartTime")


@dataclass(frozen=True, slots=True)
class LogFileHash:
    key: str  # s3Object as the digest names it
    bucket: str
    sha256: str  # hashValue, hex


@dataclass(frozen=True, slots=True)
class DigestFile:
    uri: str
    fingerprint: str  # size/mtime or ETag: read again only when it changed
    content_sha256: str  # of the uncompressed digest, hex ("" when unreadable)
    account: str | None = None
    digest_key: str = ""
    digest_bucket: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    end_time_text: str = ""  # digestEndTime as written: the signed string holds it so
    key_fingerprint: str = ""
    signature_algorithm: str = ""
    signature: str | None = None  # x-amz-meta-signature: only an S3 object carries it
    previous_key: str | None = None
    previous_bucket: str | None = None
    previous_sha256: str | None = None
    previous_signature: str | None = None
    log_files: tuple[LogFileHash, ...] = ()
    problem: str | None = None


def layout_key(uri: str) -> str | None:
    """The part of a path or S3 key that the delivery layout fixes, from ``AWSLogs/`` on: what
    a digest's ``s3Object`` and a local copy of the object have in common."""
    text = uri.replace(os.sep, "/")
    at = text.rfind("/AWSLogs/")
    if at >= 0:
        return text[at + 1:]
    return text if text.startswith("AWSLogs/") else None


def parse_digest(uri: str, fingerprint: str, raw: bytes,
                 signature: str | None = None) -> DigestFile:
    """A digest file's content (gzip, as delivered) as a DigestFile; ``problem`` says why one
    cannot be read."""
    try:
        content = _inflate(raw)
        data = orjson.loads(content)
    except (zlib.error, ValueError, orjson.JSONDecodeError) as exc:
        return DigestFile(uri, fingerprint, "", problem=f"not a digest file: {exc}")
    if not isinstance(data, dict):
        return DigestFile(uri, fingerprint, "", problem="not a digest file: not a JSON object")
    sha256 = hashlib.sha256(content).hexdigest()
    absent = [name for name in _REQUIRED if name not in data]
    if absent:
        return DigestFile(uri, fingerprint, sha256,
                          problem="not a digest file: no " + ", ".join(absent))
    files = []
    for entry in data.get("logFiles") or ():
        if isinstance(entry, dict) and entry.get("s3Object") and entry.get("hashValue"):
            files.append(LogFileHash(str(entry["s3Object"]), str(entry.get("s3Bucket") or ""),
                                     str(entry["hashValue"]).lower()))
    return DigestFile(
        uri=uri, fingerprint=fingerprint, content_sha256=sha256,
        account=_text(data.get("awsAccountId")),
        digest_key=str(data["digestS3Object"]), digest_bucket=str(data["digestS3Bucket"]),
        start_time=parse_utc(data.get("digestStartTime")),
        end_time=parse_utc(data.get("digestEndTime")),
        end_time_text=str(data.get("digestEndTime")),
        key_fingerprint=str(data.get("digestPublicKeyFingerprint") or ""),
        signature_algorithm=str(data.get("digestSignatureAlgorithm") or ""),
        signature=signature,
        previous_key=_text(data.get("previousDigestS3Object")),
        previous_bucket=_text(data.get("previousDigestS3Bucket")),
        previous_sha256=_text(data.get("previousDigestHashValue")),
        previous_signature=_text(data.get("previousDigestSignature")),
        log_files=tuple(files))


# A digest lists an hour of files: a few hundred KB at most. Past this it is no digest (a gzip
# bomb, say), and inflating stops there.
MAX_DIGEST_BYTES = 64 * 1024 * 1024


def _inflate(raw: bytes) -> bytes:
    """A digest's content: gzip inflated in one call, capped (zlib is the fast path for files
    this small; ``inflate`` streams the large log files)."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    content = inflater.decompress(raw, MAX_DIGEST_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"inflates to more than {MAX_DIGEST_BYTES:,} bytes")
    return content


def local_digests(folder: str, scope: Scope, read_folders: Mapping[str, str] | None = None
                  ) -> Iterator[tuple[str, str] | DeliveryFolder]:
    """(path, fingerprint) of each digest file under a local ``CloudTrail-Digest/`` folder
    that the scope (accounts, regions, days) selects. As for the logs (``locate``), a date
    folder that ``read_folders`` holds as read whole, unchanged, is one ``DeliveryFolder``
    (``known``) instead of its files; any other date folder whose every digest is listed is
    followed by its ``DeliveryFolder``."""
    read_folders = read_folders or {}
    for dirpath, dirnames, filenames in os.walk(folder):
        # The date folders out of the window are not walked: CloudTrail writes a digest an hour
        # per region, so a year of 17 regions is 149,000 files.
        dirnames[:] = sorted(name for name in dirnames
                             if not scope.rejects_folder(os.path.join(dirpath, name)))
        layout = parse_layout(os.path.join(dirpath, ""))
        if not filenames or scope.rejects(layout):
            continue
        filenames.sort()
        day = layout.delivery_date
        fingerprint = (folder_fingerprint(dirpath, filenames)
                       if day and layout.kind == DIGEST_FOLDER else None)
        if day and fingerprint and read_folders.get(dirpath) == fingerprint:
            yield DeliveryFolder(dirpath, fingerprint, len(filenames), day, known=True)
            continue
        listed = 0
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            listed += 1
            yield path, f"{st.st_size}:{st.st_mtime_ns}"
        if day and fingerprint and listed:
            yield DeliveryFolder(dirpath, fingerprint, listed, day)


def read_local_digest(path: str, fingerprint: str) -> DigestFile:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return DigestFile(path, fingerprint, "", problem=f"cannot read: {exc.strerror or exc}")
    return parse_digest(path, fingerprint, raw)


def s3_digests(client: BaseClient, uri: str, scope: Scope) -> Iterator[tuple[str, str]]:
    """(s3 uri, ETag) of each digest object under an ``s3://.../CloudTrail-Digest/`` prefix
    that the scope selects. Raises botocore's errors."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents") or ():
            key = obj["Key"]
            if key.endswith("/") or scope.rejects(parse_layout(key)):
                continue
            yield f"s3://{bucket}/{key}", str(obj.get("ETag", "")).strip('"')


def read_s3_digest(client: BaseClient, uri: str, etag: str) -> DigestFile:
    """A digest object with its signature from the object's metadata. Raises botocore's
    errors."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    response = client.get_object(Bucket=bucket, Key=key)
    metadata = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
    return parse_digest(uri, etag, response["Body"].read(), metadata.get("signature"))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
