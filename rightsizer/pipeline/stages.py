"""The stages of a run, reported as they go: a callback for a progress display (the CLI draws
one on a terminal), and a log line per stage with its duration (logger ``rightsizer.stages``,
which the JSON log format always shows: a scheduled job's logs say where the minutes went)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["Progress", "Stage", "stage"]

# (stage, done, total): called when a stage starts (0 of total), as it advances, and at its end.
Progress = Callable[[str, int, int], None]

log = logging.getLogger("rightsizer.stages")


class Stage:
    """One stage: started when made, ended by ``finish`` (or by leaving its ``with`` block)."""

    def __init__(self, name: str, progress: Progress | None, total: int = 1) -> None:
        self.name, self.total, self.done = name, total, 0
        self._progress = progress
        self._started = time.perf_counter()
        self._report()

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self.name, self.done, self.total)

    def add_total(self, n: int) -> None:
        self.total += n
        self._report()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._report()

    def finish(self) -> None:
        """Mark it done and log how long it took."""
        if self.done < self.total:
            self.advance(self.total - self.done)
        seconds = round(time.perf_counter() - self._started, 3)
        log.info("stage %s done in %.1f s", self.name, seconds,
                 extra={"stage": self.name, "seconds": seconds})

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.finish()


def stage(name: str, progress: Progress | None, total: int = 1) -> Stage:
    return Stage(name, progress, total)
