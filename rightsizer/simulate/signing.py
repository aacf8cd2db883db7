"""The simulated CloudTrail's signing keys: one RSA key pair per region, as CloudTrail has
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html),
signing each digest with SHA256withRSA (PKCS #1 v1.5, which is deterministic).

The keys are drawn from the simulation's random stream, so that the same seed writes the same
bytes: the primes come from a seeded generator and a Miller-Rabin test, and the key is put
together with ``cryptography``. They are test keys, never secret. The fingerprint is the MD5 of
the DER public key: AWS does not say how it computes its own, and validation only looks it up.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["SigningKey", "region_key", "signing_key"]

_E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p**0.5) + 1))]


@dataclass(frozen=True)
class SigningKey:
    private: rsa.RSAPrivateKey

    @property
    def public_der(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.DER,
                                                      serialization.PublicFormat.PKCS1)

    @property
    def fingerprint(self) -> str:
        return hashlib.md5(self.public_der, usedforsecurity=False).hexdigest()

    def sign(self, text: bytes) -> str:
        """The hex signature CloudTrail puts in the digest object's ``x-amz-meta-signature``."""
        return self.private.sign(text, padding.PKCS1v15(), hashes.SHA256()).hex()

    def listing(self, start: str, end: str) -> dict[str, Any]:
        """The key as ``aws cloudtrail list-public-keys`` prints it."""
        return {"Value": base64.b64encode(self.public_der).decode(),
                "ValidityStartTime": start, "ValidityEndTime": end,
                "Fingerprint": self.fingerprint}


@lru_cache(maxsize=64)
def region_key(seed: int, region: str, bits: int = 2048) -> SigningKey:
    """The simulation's key for a region: the same for the same seed (cached, since a key takes
    about a second to find)."""
    return signing_key(random.Random(f"rightsizer-simulate-key:{seed}:{region}"), bits)


def signing_key(rng: random.Random, bits: int = 2048) -> SigningKey:
    """A deterministic RSA key of ``bits`` from ``rng``."""
    while True:
        p, q = _prime(rng, bits // 2), _prime(rng, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % _E:
            break
    d = pow(_E, -1, phi)
    public = rsa.RSAPublicNumbers(_E, p * q)
    numbers = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                    rsa.rsa_crt_iqmp(p, q), public)
    return SigningKey(numbers.private_key())


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        n = rng.getrandbits(bits) | (3 << (bits - 2)) | 1  # top two bits set: n*m has 2*bits
        if all(n % p for p in _SMALL_PRIMES) and _probably_prime(n, rng):
            return n


def _probably_prime(n: int, rng: random.Random, rounds: int = 40) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True
