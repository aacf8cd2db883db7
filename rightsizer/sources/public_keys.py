"""CloudTrail's public keys, which verify the digest files' signatures: from the output of
``aws cloudtrail list-public-keys`` (a file, for offline use) or live through
``cloudtrail:ListPublicKeys`` (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_ListPublicKeys.html).
Each key is DER (PKCS #1), base64 in the AWS CLI's JSON, and named by its fingerprint."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from pathlib import Path

from rightsizer.errors import SourceError
from rightsizer.sources.aws import AwsOptions, make_aws_client, source_error
from rightsizer.sources.jsonfile import read_json_file

__all__ = ["fetch_public_keys", "load_public_keys"]


def load_public_keys(path: str | Path) -> dict[str, bytes]:
    """Fingerprint -> DER key, from ``aws cloudtrail list-public-keys`` output (one object, or a
    list of them: one per region)."""
    data = read_json_file(path, "--public-keys")
    pages = data if isinstance(data, list) else [data]
    keys: dict[str, bytes] = {}
    for page in pages:
        listed = page.get("PublicKeyList") if isinstance(page, dict) else None
        if not isinstance(listed, list):
            raise SourceError(f"--public-keys {path}: not `aws cloudtrail list-public-keys` "
                              "output (no PublicKeyList)")
        for entry in listed:
            if not isinstance(entry, dict) or not entry.get("Fingerprint"):
                raise SourceError(f"--public-keys {path}: a key without a Fingerprint")
            try:
                keys[str(entry["Fingerprint"])] = base64.b64decode(str(entry.get("Value", "")),
                                                                   validate=True)
            except binascii.Error:
                raise SourceError(f"--public-keys {path}: the key {entry['Fingerprint']} is "
                                  "not base64") from None
    return keys


def fetch_public_keys(options: AwsOptions, start: datetime, end: datetime) -> dict[str, bytes]:
    """The keys valid between ``start`` and ``end``, from CloudTrail in ``options``' region."""
    client = make_aws_client("cloudtrail", options)
    keys: dict[str, bytes] = {}
    token = None
    try:
        while True:
            page = client.list_public_keys(StartTime=start, EndTime=end,
                                           **({"NextToken": token} if token else {}))
            for entry in page.get("PublicKeyList") or ():
                value = entry.get("Value") or b""
                keys[str(entry["Fingerprint"])] = (value if isinstance(value, bytes)
                                                   else base64.b64decode(value))
            token = page.get("NextToken")
            if not token:
                return keys
    except Exception as exc:
        raise source_error("cloudtrail:ListPublicKeys", exc, options) from exc
