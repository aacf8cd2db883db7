"""Typed exceptions of the library. Only the CLI maps them to exit codes (README, "Exit codes")."""

from __future__ import annotations


class RightsizerError(Exception):
    """Base of every error rightsizer raises on purpose."""


class ConfigError(RightsizerError):
    """A setting, flag or argument is wrong; the user must change the call (exit 2)."""


class SourceError(RightsizerError):
    """A source cannot be used at all: a missing path, an unreachable bucket (exit 4)."""


class StoreError(RightsizerError):
    """The DuckDB store cannot be opened or is from a newer rightsizer (exit 2)."""


class PolicyError(RightsizerError):
    """A policy document cannot be read: not JSON, no Statement, an element of the wrong type.

    The message names the policy and the reason. Callers that load many policies record it and go
    on with the rest (exit 4 at the end of the run, like any unreadable input)."""
