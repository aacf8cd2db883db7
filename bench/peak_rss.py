"""Peak resident memory of a benchmark: this process and its children, polled (shared by the
benchmarks; run them as ``python bench/NAME.py``, which puts this folder on the path)."""

from __future__ import annotations

import threading
import time

import psutil


class PeakRss:
    """Polls the RSS of this process and of its children (the workers) every 20 ms."""

    def __init__(self) -> None:
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
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                main = me.memory_info().rss
                tree = main + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.main, self.tree = max(self.main, main), max(self.tree, tree)
            time.sleep(0.02)
