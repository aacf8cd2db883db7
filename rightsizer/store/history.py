"""The store's record of runs, for comparing runs over time (analysis/history.py). A mixin of
``Store``, which owns the connection (database.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson

from rightsizer.store.clock import now
from rightsizer.store.connected import Connected

__all__ = ["RunRecords"]


class RunRecords(Connected):
    def record_run(self, run_id: str, as_of: date, roles: Sequence[dict[str, Any]],
                   integrity: dict[str, Any] | None = None) -> None:
        """What a run saw, per role, and its log integrity check; a run recorded again replaces
        its record."""
        self._con.execute("INSERT OR REPLACE INTO run_history VALUES (?, ?, ?, ?, ?)",
                          [run_id, as_of, now(),
                           orjson.dumps(list(roles)).decode(),
                           orjson.dumps(integrity).decode() if integrity else None])

    def run_integrity(self, run_id: str) -> dict[str, Any] | None:
        """The log integrity check a run recorded (None: it used no log file)."""
        row = self._con.execute("SELECT integrity FROM run_history WHERE run_id = ?",
                                [run_id]).fetchone()
        return orjson.loads(row[0]) if row and row[0] else None

    def runs(self, limit: int = 60) -> list[tuple[str, date, list[dict[str, Any]]]]:
        """The ``limit`` latest runs, oldest first: (run id, day, role records)."""
        rows = self._con.execute(
            "SELECT run_id, as_of, roles FROM (SELECT * FROM run_history "
            "ORDER BY finished_at DESC LIMIT ?) ORDER BY finished_at", [limit]).fetchall()
        return [(run_id, as_of, orjson.loads(roles)) for run_id, as_of, roles in rows]
