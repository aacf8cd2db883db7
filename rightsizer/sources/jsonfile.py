"""One JSON input file, read with an error that names the flag, the file and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from rightsizer.errors import SourceError

__all__ = ["read_json_file"]


def read_json_file(path: str | Path, flag: str) -> Any:
    """The JSON value in ``path``; a SourceError naming ``flag`` and the file when it cannot be
    read or is not JSON."""
    try:
        return orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise SourceError(f"{flag} {path}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"{flag} {path}: not JSON: {exc}") from None
