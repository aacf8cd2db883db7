"""How the command speaks: text for a person on a terminal, with every control character that
a CloudTrail string or a task definition may carry escaped (it could clear the screen, retitle
it or forge a line), JSON for scripts, and logs as text or as one JSON object a line."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from rightsizer.text import escape_controls

__all__ = ["_TextFormatter", "_echo", "_one", "_print_json", "_setup_logging"]


def _setup_logging(verbose: int, log_format: str = "text", level_name: str | None = None
                   ) -> None:
    """Logs go to stderr: text for people, or one JSON object a line for log collectors
    (CloudWatch, Loki, ...). ``-v`` lowers the level from ``level_name`` (default warning)."""
    base = getattr(logging, (level_name or "warning").upper())
    level = max(logging.DEBUG, base - 10 * min(verbose, 2))
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # PyAthena logs a failed query with its whole traceback; rightsizer reports it in one line
    # (the table, the account, Athena's reason). -vv shows it.
    logging.getLogger("pyathena").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)


class _TextFormatter(logging.Formatter):
    """Log lines for a terminal: the message on one line, its control characters escaped (a
    file name or an AWS error can hold a line break that would forge a log line). JSON logs
    need no such care: their encoder escapes them."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


class _JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("exit_code", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def _echo(text: str, err: bool = False) -> None:
    """Print text for a person: control characters escaped, so that a string from CloudTrail
    or a task definition cannot clear the terminal, retitle it or forge a line. The line
    breaks kept are rightsizer's own: values that can hold one are escaped whole by ``_one``."""
    click.echo(escape_controls(text, keep="\n"), err=err)


def _one(value: object) -> str:
    """An untrusted value shown on one line (every control escaped, a line break too)."""
    return escape_controls(str(value))


def _print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
