"""The store's ledger of delivery folders read whole (schema 006): what lets a daily ingest
count a month of files it has read without listing them again. A mixin of ``Store``, which
owns the connection (database.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rightsizer.store.clock import now
from rightsizer.store.connected import Connected

__all__ = ["FolderLedger"]


class FolderLedger(Connected):
    def read_folders(self, under: str, days: tuple[date, date] | None = None) -> dict[str, str]:
        """Folder -> fingerprint of the delivery folders under ``under`` read whole, only those
        of the delivery ``days`` (first, last) when given."""
        first, last = days if days else (None, None)
        rows = self._con.execute(
            "SELECT folder, fingerprint FROM read_folders WHERE starts_with(folder, ?) "
            "AND (CAST(? AS DATE) IS NULL OR delivery_date >= ?) "
            "AND (CAST(? AS DATE) IS NULL OR delivery_date <= ?)",
            [under, first, first, last, last]).fetchall()
        return dict(rows)

    def record_read_folders(self, folders: Sequence[tuple[str, str, int, date]],
                            run_id: str) -> None:
        """Record (folder, fingerprint, files, delivery date) as read whole: the caller has
        checked that its ledger holds every file of each, as listed."""
        if not folders:
            return
        rows = {
            "folder": ("VARCHAR", [f for f, _, _, _ in folders]),
            "fingerprint": ("VARCHAR", [p for _, p, _, _ in folders]),
            "files": ("BIGINT", [n for _, _, n, _ in folders]),
            "delivery_date": ("DATE", [d for _, _, _, d in folders]),
        }
        self._with_rows("folders", rows, "INSERT OR REPLACE INTO read_folders SELECT folder, "
                        "fingerprint, files, delivery_date, ?, ? FROM folders", [now(), run_id])
