"""Random identifiers shaped like AWS's, drawn from a seeded `random.Random`: reproducible."""

from __future__ import annotations

import base64
import random
import string

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
# IAM unique IDs and access keys use upper-case letters and the digits 2-7 (base32).
BASE32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"


class Rng(random.Random):
    """`random.Random` that cuts `randbytes` from a 64 KiB buffer.

    Asking the generator for 16 bytes at a time costs more than everything else in an ID;
    slicing a buffer is several times faster at millions of IDs. Same seed, same bytes.
    """

    _POOL = 1 << 16

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._buffer = b""
        self._pos = 0
        self._uuids: list[str] = []

    def randbytes(self, n: int) -> bytes:
        pos = self._pos
        end = pos + n
        if end > len(self._buffer):
            self._buffer = super().randbytes(max(self._POOL, n))
            pos, end = 0, n
        self._pos = end
        return self._buffer[pos:end]

    def uuid4(self) -> str:
        """The next version-4 UUID; made 4096 at a time with strided slice copies (C speed)."""
        if not self._uuids:
            n = _UUID_BATCH
            raw = bytearray(self.randbytes(16 * n))
            raw[6::16] = raw[6::16].translate(_VERSION_NIBBLE)
            raw[8::16] = raw[8::16].translate(_VARIANT_BITS)
            digits = raw.hex().encode()
            # 37 bytes per UUID: 32 digits, 4 dashes, 1 space to split on.
            out = bytearray(b" " * (37 * n))
            for dash in (8, 13, 18, 23):
                out[dash::37] = b"-" * n
            for j, dest in enumerate(_UUID_LAYOUT):
                out[dest::37] = digits[j::32]
            self._uuids = out.decode().split()
            self._uuids.reverse()  # pop() from the end hands them out in order
        return self._uuids.pop()


_UUID_BATCH = 4096
_VERSION_NIBBLE = bytes((b & 0x0F) | 0x40 for b in range(256))  # version 4
_VARIANT_BITS = bytes((b & 0x3F) | 0x80 for b in range(256))  # RFC 4122 variant (10xx)
# Where hex digit j of a UUID goes in its 8-4-4-4-12 text form.
_UUID_LAYOUT = tuple(j + (j >= 8) + (j >= 12) + (j >= 16) + (j >= 20) for j in range(32))


def uuid4(rng: Rng) -> str:
    """A version-4 UUID string (eventID, requestID) from `rng`, not from the OS."""
    return rng.uuid4()


def hex_id(rng: random.Random, n: int) -> str:
    """`n` lower-case hex digits (task IDs are 32)."""
    return rng.randbytes((n + 1) // 2).hex()[:n]


_TABLES: dict[str, bytes] = {}


def text(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    """`n` characters of `alphabet`: random bytes mapped through a 256-entry table.

    Uniform when len(alphabet) divides 256 (base32, hex); nearly so otherwise. Much faster
    than `rng.choices`, which matters at millions of IDs.
    """
    table = _TABLES.get(alphabet)
    if table is None:
        table = bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))
        _TABLES[alphabet] = table
    return rng.randbytes(n).translate(table).decode()


def unique_id(rng: random.Random, prefix: str) -> str:
    """IAM unique ID: AROA (role), AIDA (user), ANPA (policy), AGPA (group), AIPA (profile)."""
    return prefix + text(rng, 17, BASE32)


def access_key(rng: random.Random, prefix: str = "ASIA") -> str:
    """ASIA = temporary (STS) key, AKIA = long-term IAM user key."""
    return prefix + text(rng, 16, BASE32)


def session_token(rng: random.Random) -> str:
    # Real tokens are ~800 characters; a shorter one keeps files small and looks the same.
    return "IQoJb3JpZ2luX2VjE" + base64.b64encode(rng.randbytes(120)).decode()


def secret_suffix(rng: random.Random) -> str:
    """Secrets Manager appends `-` and 6 random characters to every secret name in its ARN."""
    return text(rng, 6)


def sha256_digest(rng: random.Random) -> str:
    return "sha256:" + hex_id(rng, 64)


def ipv4(rng: random.Random, first: int) -> str:
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
