"""Peak resident memory of a benchmark: this process and its children, polled (shared by the
benchmarks; run them as ``python bench/NAME.py``, which puts this folder on the path)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from typing import Any

import psutil


class PeakRss:
    """Polls the RSS of a process (this one unless given) and of its children (the workers)
    every 20 ms."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid  # the process to watch, with its children (default: this one)
        self.main = 0
        self.tree = 0
        self.samples: list[tuple[float, int]] = []  # (time.time(), the tree's RSS), each poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        me = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                main = me.memory_info().rss
                tree = main + sum(c.memory_info().rss for c in me.children(recursive=True))
                self.main, self.tree = max(self.main, main), max(self.tree, tree)
                self.samples.append((time.time(), tree))
            except psutil.Error:  # a child came or went meanwhile; the watched one has exited
                pass
            time.sleep(0.02)


class Measured:
    """Runs commands in child processes: their seconds add up, and the peak RSS of each one's
    process tree (polled) is kept at its highest."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.peak = 0
        self.samples: list[tuple[float, int]] = []  # (time.time(), RSS of the tree), all runs

    def run(self, command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        started = time.perf_counter()
        child = subprocess.Popen(command, **kwargs)
        with PeakRss(child.pid) as peak:
            out, err = child.communicate()
        self.peak = max(self.peak, peak.tree)
        self.samples += peak.samples
        self.seconds += time.perf_counter() - started
        result = subprocess.CompletedProcess(command, child.returncode, out, err)
        if child.returncode not in (0, 4):  # rightsizer exits 4 when an input was unreadable
            raise SystemExit(f"{command[0]} failed ({child.returncode}): "
                             f"{(err or b'').decode(errors='replace')[-2000:]}")
        return result


def peak_by_stage(samples: Sequence[tuple[float, int]],
                  stages: Sequence[tuple[str, float, float]]) -> dict[str, int]:
    """The highest RSS polled during each stage: ``stages`` are (name, start, end) in
    ``time.time()`` seconds, as a run's JSON stage log gives them (its end time and seconds).
    A stage no sample fell in is left out."""
    peaks: dict[str, int] = {}
    for name, start, end in stages:
        during = [rss for moment, rss in samples if start <= moment <= end]
        if during:
            peaks[name] = max(peaks.get(name, 0), *during)
    return peaks
