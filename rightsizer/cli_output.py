"""How the command speaks and ends: text for a person on a terminal, with every control
character that a CloudTrail string or a task definition may carry escaped (it could clear the
screen, retitle it or forge a line), JSON for scripts, logs as text or as one JSON object a
line, and the exit code each of the library's errors ends with.

Exit codes: 0 done; 1 bug; 2 usage or configuration error; 3 findings (with
``--fail-on-findings``); 4 data error (some input unreadable, everything readable processed).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from rightsizer.errors import ConfigError, PolicyError, RightsizerError, SourceError, StoreError
from rightsizer.text import escape_controls

__all__ = ["EXIT_BUG", "EXIT_DATA", "EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "_StageProgress",
           "_TextFormatter", "_echo", "_one", "_print", "_print_json", "_run", "_say_error",
           "_say_warning", "_setup_logging", "_size", "_state", "format_text"]

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_FINDINGS, EXIT_DATA = 0, 1, 2, 3, 4


_state: dict[str, Any] = {"json_logs": False, "verbose": 0}
log = logging.getLogger("rightsizer.cli")


def _say_error(message: str, exit_code: int | None = None) -> None:
    """An error for the person or the log collector: ``rightsizer: ...`` on stderr, or a JSON
    log line with ``--log-format json``."""
    if _state["json_logs"]:
        extra = {"exit_code": exit_code} if exit_code is not None else {}
        log.error(message, extra=extra)
    else:
        _echo(f"rightsizer: {_one(message)}", err=True)


def _say_warning(message: str) -> None:
    """A warning: ``rightsizer: warning: ...`` on stderr, or a JSON log line."""
    if _state["json_logs"]:
        log.warning(message)
    else:
        _echo(f"rightsizer: warning: {_one(message)}", err=True)


# The library's typed errors and their exit codes, most specific first.
_EXIT_CODES: tuple[tuple[type[RightsizerError], int], ...] = (
    (ConfigError, EXIT_USAGE),
    (StoreError, EXIT_USAGE),
    (SourceError, EXIT_DATA),
    (PolicyError, EXIT_DATA),
    (RightsizerError, EXIT_BUG),
)


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM (a scheduler stopping the job, ``docker stop``) unwinds like an error, so that
    every ``finally`` runs: spools holding raw events are removed, the store's lock released."""
    raise SystemExit(128 + signum)


def _run(action: Callable[[], int]) -> None:
    """Map the library's typed errors to exit codes; anything else is a bug (exit 1)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    try:
        code = action()
    except RightsizerError as exc:
        code = next(code for kind, code in _EXIT_CODES if isinstance(exc, kind))
        _say_error(str(exc), code)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


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
    # A job's JSON logs always say how long each stage of a run took.
    logging.getLogger("rightsizer.stages").setLevel(
        logging.INFO if log_format == "json" else level)
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
        for key in ("exit_code", "event", "stage", "seconds", "max_rss_mib"):
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


def _size(n: float) -> str:
    """A byte count for a person: ``512 B``, ``1.5 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _print(output: str, data: Callable[[], Any], table: Callable[[], None]) -> None:
    """A command's result as ``--output`` asks: ``json``, ``text`` (the same object, tab
    separated, as the AWS CLI prints it) or ``table`` (``table()``: the layout for a person)."""
    if output == "json":
        _print_json(data())
    elif output == "text":
        sys.stdout.write(format_text(orjson.loads(orjson.dumps(data()))))
    else:
        table()


def format_text(data: Any) -> str:
    """``data`` as the AWS CLI's ``--output text`` prints it (its ``awscli/text.py``; see
    https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-output-format.html): a dict's
    scalars on one line, tab separated, in key order, after the upper-cased key that holds it;
    a list of dicts one line each with the union of their scalar keys. Every value is escaped
    (``escape_controls``), so that a tab or a line break inside one cannot shift a column or
    forge a line."""
    lines: list[str] = []
    _text_item(data, lines, None, None)
    return "".join(line + "\n" for line in lines)


def _text_scalar(value: Any) -> str:
    return escape_controls(str(value))


def _text_item(item: Any, lines: list[str], identifier: str | None,
               scalar_keys: list[str] | None) -> None:
    if isinstance(item, dict):
        _text_dict(item, lines, identifier, scalar_keys)
    elif isinstance(item, list):
        _text_list(item, lines, identifier)
    else:
        lines.append(_text_scalar(item))


def _text_list(items: list[Any], lines: list[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(el, dict) for el in items):
        keys = sorted({k for el in items if isinstance(el, dict) for k, v in el.items()
                       if not isinstance(v, dict | list)})
        for element in items:
            _text_item(element, lines, identifier, keys)
    elif any(isinstance(el, list) for el in items):
        scalars = [el for el in items if not isinstance(el, dict | list)]
        if scalars:
            _text_scalars(scalars, lines, identifier)
        for element in items:
            if isinstance(element, dict | list):
                _text_item(element, lines, identifier, None)
    else:
        _text_scalars(items, lines, identifier)


def _text_scalars(items: list[Any], lines: list[str], identifier: str | None) -> None:
    if identifier is not None:
        lines.extend(f"{identifier.upper()}\t{_text_scalar(item)}" for item in items)
    else:
        lines.append("\t".join(_text_scalar(item) for item in items))


def _text_dict(item: dict[str, Any], lines: list[str], identifier: str | None,
               scalar_keys: list[str] | None) -> None:
    if scalar_keys is None:
        scalars = [_text_scalar(v) for k, v in sorted(item.items())
                   if not isinstance(v, dict | list)]
        nested = [(k, v) for k, v in sorted(item.items()) if isinstance(v, dict | list)]
    else:
        scalars = [_text_scalar(item.get(k, "")) for k in scalar_keys]
        nested = [(k, item[k]) for k in sorted(set(item) - set(scalar_keys))]
    if scalars:
        lines.append("\t".join([identifier.upper(), *scalars] if identifier is not None
                                else scalars))
    for key, value in nested:
        _text_item(value, lines, key, None)


class _StageProgress:
    """The stages of a run on a terminal's stderr, a bar each (rich); nothing when stderr is
    not a terminal or the logs are JSON. Called as ``pipeline.stages.Progress``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _StageProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=Console(stderr=True), transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._progress.add_task(stage, total=total)
        self._progress.update(task, completed=done, total=total)
