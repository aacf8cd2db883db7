"""Were the logs a run used delivered by CloudTrail and left unaltered? CloudTrail log file
integrity validation, as ``aws cloudtrail validate-logs`` does it. Pure: the store's digests and
file hashes, and the public keys, go in; a status per file comes out.

The procedure (CloudTrail user guide, "Custom implementations of CloudTrail log file integrity
validation", https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html,
and the AWS CLI's awscli/customizations/cloudtrail/validation.py):

1. Each digest is signed with SHA256withRSA (PKCS #1 v1.5) by a per-region key whose public half
   ``cloudtrail:ListPublicKeys`` returns by ``digestPublicKeyFingerprint``. The signed string is
   ``digestEndTime + "\\n" + digestS3Bucket/digestS3Object + "\\n" + hex(SHA-256 of the
   uncompressed digest) + "\\n" + previousDigestSignature`` (``null`` for the first digest).
   The signature sits in the S3 object's metadata; for a local copy it is taken from the next
   digest's ``previousDigestSignature``, which that digest's own signature vouches for.
2. Digests chain: each names the previous one's object and signature, so a digest removed from
   the middle shows as a link that leads nowhere.
3. Each log file's SHA-256 (of its uncompressed content) must equal the digest's ``hashValue``.

Statuses per file: ``valid``; ``modified`` (the hash differs); ``missing`` (a digest lists it, no
such file was read); ``not_covered`` (no digest lists it: validation was off, or the digest was
not read, or its signature could not be checked); ``signature_invalid`` (the digest that lists
it fails its signature, or no public key has its fingerprint); ``chain_broken`` (the digest's
link to the one before it, or from the one after it, is missing or does not match).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from rightsizer.analysis.evidence import Sufficiency
from rightsizer.sources.digests import layout_key
from rightsizer.sources.locate import parse_layout
from rightsizer.store.records import StoredDigest

__all__ = ["FileIntegrity", "IntegrityReport", "Status", "check_integrity", "limit_sufficiency",
           "verify_signature"]


class Status(StrEnum):
    VALID = "valid"
    MODIFIED = "modified"
    MISSING = "missing"
    NOT_COVERED = "not_covered"
    SIGNATURE_INVALID = "signature_invalid"
    CHAIN_BROKEN = "chain_broken"


# What makes the evidence untrustworthy: a run over such files raises a high finding, and the
# places they come from prove nothing unused.
TAMPERED = frozenset({Status.MODIFIED, Status.MISSING, Status.SIGNATURE_INVALID,
                      Status.CHAIN_BROKEN})


@dataclass(frozen=True, slots=True)
class FileIntegrity:
    path: str
    status: Status
    reason: str
    account: str | None
    region: str | None

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    files: tuple[FileIntegrity, ...]  # every file used, and every file listed but missing
    digests: int  # digests read over the window
    digests_verified: int  # whose signature checked out
    keys: int  # public keys at hand
    # The newest digest of each chain read from a local copy: its signature is only in S3's
    # metadata, and it lists the last hour's files at most.
    digests_unsigned: int = 0

    def counts(self) -> dict[str, int]:
        found = Counter(f.status for f in self.files)
        return {status.value: found.get(status, 0) for status in Status}

    @property
    def tampered(self) -> tuple[FileIntegrity, ...]:
        return tuple(f for f in self.files if f.status in TAMPERED)

    def tampered_places(self) -> dict[tuple[str, str], Counter[str]]:
        """(account, region) -> statuses counted, for the files whose evidence is not sound."""
        places: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for f in self.tampered:
            places[(f.account or "", f.region or "")][f.status.value] += 1
        return dict(places)

    def _totals(self) -> dict[str, Any]:
        return {"counts": self.counts(), "digests": self.digests,
                "digests_verified": self.digests_verified,
                "digests_unsigned": self.digests_unsigned, "public_keys": self.keys}

    def as_json(self) -> dict[str, Any]:
        """``summary.json``'s ``integrity``: a count per status, and every file not valid."""
        return {**self._totals(),
                "files": [f.as_json() for f in self.files if f.status is not Status.VALID]}

    def record_json(self) -> dict[str, Any]:
        """What the store's run history keeps: the counts, the failures (``TAMPERED``)
        listed, and the files merely not covered counted per (status, reason) in
        ``unverified``, most first. Listed, those repeat one reason for every file of a run
        (40,000 files: 13 MB a run in the store); the run's summary.json lists them."""
        unverified = Counter((f.status.value, f.reason) for f in self.files
                             if f.status is not Status.VALID and f.status not in TAMPERED)
        return {**self._totals(), "files": [f.as_json() for f in self.tampered],
                "unverified": [{"status": status, "reason": reason, "files": n}
                               for (status, reason), n in unverified.most_common()]}


def verify_signature(public_key_der: bytes, signature_hex: str, signed: bytes) -> bool:
    """SHA256withRSA (PKCS #1 v1.5) over ``signed`` with a DER public key (PKCS #1 or SPKI)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_der_public_key(public_key_der)
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def signed_string(digest: StoredDigest, previous_signature: str | None) -> bytes:
    """What CloudTrail signs for a digest (module docstring, step 1)."""
    return (f"{digest.end_time_text}\n{digest.digest_bucket}/{digest.digest_key}\n"
            f"{digest.content_sha256}\n{previous_signature or 'null'}").encode()


@dataclass(frozen=True, slots=True)
class _Verdict:
    status: Status  # VALID for a sound digest, else what its files get
    reason: str


def check_integrity(digests: Sequence[StoredDigest], used: Mapping[str, str | None],
                    read: Sequence[str], public_keys: Mapping[str, bytes] | None,
                    window: tuple[datetime, datetime]) -> IntegrityReport:
    """The status of each log file ``used`` (uri -> SHA-256, None when not hashed), and of each
    file a digest of the window lists that no file ``read`` is; ``digests`` are those the store
    holds around the window, ``public_keys`` fingerprint -> DER (None: none were given)."""
    readable = [d for d in digests if not d.problem]
    by_key = {d.digest_key: d for d in readable}
    successor = {d.previous_key: d for d in readable if d.previous_key}
    chains: dict[tuple[str, str], list[StoredDigest]] = defaultdict(list)
    for d in readable:
        chains[_place(d.digest_key)].append(d)
    for chain in chains.values():
        chain.sort(key=lambda d: (d.end_time is None, d.end_time))
    verdicts = {d.digest_key: _judge(d, by_key, successor, chains[_place(d.digest_key)],
                                     public_keys) for d in readable}
    listed: dict[str, tuple[StoredDigest, str]] = {}
    for d in readable:
        for key, sha256 in d.log_files:
            listed[key] = (d, sha256)

    files = []
    for uri, actual in sorted(used.items()):
        key = layout_key(uri) or uri
        layout = parse_layout(key)
        entry = listed.get(key)
        if entry is None:
            status, reason = Status.NOT_COVERED, ("no digest read lists it: log file validation "
                                                  "was off, or its digest was not read")
        else:
            digest, expected = entry
            verdict = verdicts[digest.digest_key]
            if verdict.status is Status.SIGNATURE_INVALID:
                status, reason = verdict.status, verdict.reason
            elif actual is None:
                status = Status.NOT_COVERED
                reason = ("read before rightsizer hashed log files: ingest it again into a new "
                          "store to check it")
            elif actual != expected:
                status, reason = Status.MODIFIED, (f"SHA-256 {actual} differs from {expected}, "
                                                   f"which {_name(digest)} recorded")
            else:
                status, reason = verdict.status, verdict.reason
        files.append(FileIntegrity(uri, status, reason, layout.account, layout.region))

    start, end = window
    present = {layout_key(uri) or uri for uri in read}
    for d in readable:
        if d.end_time is None or d.start_time is None or d.end_time <= start or d.start_time > end:
            continue
        for key, _ in d.log_files:
            if key not in present:
                layout = parse_layout(key)
                files.append(FileIntegrity(key, Status.MISSING,
                                           f"{_name(d)} lists it; no such file was read",
                                           layout.account, layout.region))
    for d in readable:
        # A digest that fails is named itself: its neighbours may list no log file at all.
        verdict = verdicts[d.digest_key]
        if verdict.status in (Status.SIGNATURE_INVALID, Status.CHAIN_BROKEN):
            layout = parse_layout(d.digest_key)
            files.append(FileIntegrity(d.uri, verdict.status, verdict.reason, layout.account,
                                       layout.region))
    for d in digests:
        if d.problem:
            layout = parse_layout(d.digest_key or d.uri)
            files.append(FileIntegrity(d.uri, Status.CHAIN_BROKEN, f"digest unreadable: "
                                       f"{d.problem}", layout.account, layout.region))
    verified = sum(1 for v in verdicts.values() if v.status is Status.VALID)
    unsigned = sum(1 for d in readable if public_keys is not None and not d.signature
                   and d.digest_key not in successor)
    return IntegrityReport(tuple(files), len(digests), verified,
                           len(public_keys) if public_keys else 0, unsigned)


def _judge(d: StoredDigest, by_key: Mapping[str, StoredDigest],
           successor: Mapping[str, StoredDigest], chain: Sequence[StoredDigest],
           public_keys: Mapping[str, bytes] | None) -> _Verdict:
    """Whether a digest is sound: signed by CloudTrail's key, and linked to its neighbours."""
    after = successor.get(d.digest_key)
    signature = d.signature or (after.previous_signature if after else None)
    first, last = chain[0] is d, chain[-1] is d
    if public_keys is None:
        return _Verdict(Status.NOT_COVERED, "no public keys to check the digests' signatures "
                                            "(give --public-keys, or read the logs from S3)")
    if signature is None:
        if last:
            return _Verdict(Status.NOT_COVERED, f"the signature of {_name(d)}, the newest read, "
                                                "is only in the S3 object's metadata")
        return _Verdict(Status.CHAIN_BROKEN, f"no digest read after {_name(d)} names it: its "
                                             "signature cannot be checked")
    key = public_keys.get(d.key_fingerprint)
    if key is None:
        return _Verdict(Status.SIGNATURE_INVALID, f"no public key has the fingerprint "
                                                  f"{d.key_fingerprint} that {_name(d)} names")
    previous = by_key.get(d.previous_key) if d.previous_key else None
    if not verify_signature(key, signature, signed_string(d, d.previous_signature)):
        return _Verdict(Status.SIGNATURE_INVALID, f"the signature of {_name(d)} does not verify "
                                                  "with CloudTrail's public key")
    if d.previous_key and previous is None and not first:
        return _Verdict(Status.CHAIN_BROKEN, f"{_name(d)} follows {d.previous_key}, which was "
                                             "not read")
    if previous is not None and d.previous_sha256 and d.previous_sha256 != previous.content_sha256:
        return _Verdict(Status.CHAIN_BROKEN, f"{_name(d)} records another hash for the digest "
                                             "before it")
    if not last and after is None:
        return _Verdict(Status.CHAIN_BROKEN, f"no digest read after {_name(d)} names it")
    return _Verdict(Status.VALID, f"hash matches {_name(d)}, whose signature and chain verify")


def _place(key: str) -> tuple[str, str]:
    layout = parse_layout(key)
    return layout.account or "", layout.region or ""


def _name(d: StoredDigest) -> str:
    return "digest " + d.digest_key.rsplit("/", 1)[-1]


def limit_sufficiency(sufficiency: Sufficiency,
                      tampered: Mapping[tuple[str, str], Counter[str]]) -> Sufficiency:
    """A role's evidence once the logs of its places are checked: where some failed validation,
    they prove nothing unused, and the role gets no proposal."""
    missing = []
    for place in sufficiency.footprint:
        found = tampered.get((place.account, place.region))
        if found:
            what = ", ".join(f"{n:,} {status.replace('_', ' ')}"
                             for status, n in sorted(found.items()))
            missing.append(f"the logs of {place.region} (account {place.account}) failed "
                           f"CloudTrail's integrity validation ({what}): what they do not show "
                           "proves nothing")
    if not missing:
        return sufficiency
    return replace(sufficiency, sufficient=False, integrity_failed=True,
                   missing=(*sufficiency.missing, *missing))
