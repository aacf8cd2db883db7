"""The stages of a run, reported as they go: a callback for a progress display (the CLI draws
one on a terminal), and a log line per stage with its duration and the process's peak memory so
far (logger ``rightsizer.stages``, which the JSON log format always shows: a scheduled job's
logs say where the minutes and the memory went)."""

from __future__ import annotations

import logging
import sys
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
        """Mark it done and log how long it took, and the peak memory so far."""
        if self.done < self.total:
            self.advance(self.total - self.done)
        seconds = round(time.perf_counter() - self._started, 3)
        peak = peak_rss_mib()
        log.info("stage %s done in %.1f s%s", self.name, seconds,
                 f" (peak memory so far {peak:,} MiB)" if peak else "",
                 extra={"stage": self.name, "seconds": seconds,
                        **({"max_rss_mib": peak} if peak else {})})

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.finish()


def stage(name: str, progress: Progress | None, total: int = 1) -> Stage:
    return Stage(name, progress, total)


def peak_rss_mib() -> int | None:
    """The highest resident memory of this process so far and, apart, of its largest child
    that has ended (the ingest's readers), in MiB, whichever is higher: what a scheduler's
    memory limit must allow. None where the platform does not say (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    unit = 1 if sys.platform == "darwin" else 1024
    most = max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return round(most * unit / (1024 * 1024))
