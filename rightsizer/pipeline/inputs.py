"""Inputs named on the command line (or in the settings) that do not exist are a usage error,
found before anything is created: no store, no lock file, no output folder. A missing input is
a mistyped path or a mount that is not there, not data that could not be read (exit 2, not 4)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rightsizer.errors import ConfigError

__all__ = ["is_local", "require_inputs"]

LIVE = "aws"  # ``--iam aws``, ``--ecs aws``, ``--trail aws``: read from the account


def is_local(source: str | Path) -> bool:
    """A path on this machine (not ``s3://``, ``athena://`` or another URI, not ``aws``)."""
    text = str(source)
    return text != LIVE and "://" not in text


def require_inputs(inputs: Iterable[tuple[str, str | Path]]) -> None:
    """Raise ConfigError naming each (flag, path) whose local path does not exist. ``flag`` is
    "" for a positional source."""
    missing = [f"{flag + ' ' if flag else ''}{path}: no such file or folder"
               for flag, path in inputs if is_local(path) and not Path(path).exists()]
    if missing:
        raise ConfigError("; ".join(missing))
