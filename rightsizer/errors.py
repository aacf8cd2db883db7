"""Typed exceptions of the library. Only the CLI maps them to exit codes (DESIGN.md, Exit codes)."""

from __future__ import annotations


class RightsizerError(Exception):
    """Base of every error rightsizer raises on purpose."""


class ConfigError(RightsizerError):
    """A setting, flag or argument is wrong; the user must change the call (exit 2)."""


class SourceError(RightsizerError):
    """A source cannot be used at all: a missing path, an unreachable bucket (exit 4)."""


class StoreError(RightsizerError):
    """The DuckDB store cannot be opened or is from a newer rightsizer (exit 2)."""
