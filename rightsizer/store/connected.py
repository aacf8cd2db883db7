"""What the store's parts share: the DuckDB connection (opened by ``Store``, database.py) and
running a query over an Arrow table of our rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = ["Connected"]


class Connected:
    _con: duckdb.DuckDBPyConnection

    def _with_table(self, name: str, table: pa.Table, query: str,
                    params: Sequence[object] = ()) -> list[tuple]:
        """Run a query that reads an Arrow table under ``name``. Rows go in as Arrow tables:
        DuckDB's executemany costs about a millisecond a row."""
        self._con.register(name, table)
        try:
            return self._con.execute(query, list(params)).fetchall()
        finally:
            self._con.unregister(name)
