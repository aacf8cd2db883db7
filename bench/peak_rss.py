"""Peak resident memory of a benchmark: this process and its children, polled (shared by the
benchmarks; run them as ``python bench/NAME.py``, which puts this folder on the path)."""

from __future__ import annotations

import threading
import time

import psutil


class PeakRss:
    """Polls the RSS of a process (this one unless given) and of its children (the workers)
    every 20 ms."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid  # the process to watch, with its children (default: this one)
        self.main = 0
        self.tree = 0
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
            except psutil.Error:  # a child came or went meanwhile; the watched one has exited
                pass
            time.sleep(0.02)
