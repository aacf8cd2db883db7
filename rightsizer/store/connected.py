"""What the store's parts share: the DuckDB connection (opened by ``Store``, database.py) and
running a query over rows of our own, given as columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

__all__ = ["Columns", "Connected"]

# Rows as columns: each column's name, its SQL type and its values, one per row.
Columns = Mapping[str, tuple[str, Sequence[object]]]


class Connected:
    _con: duckdb.DuckDBPyConnection

    def _with_rows(self, name: str, columns: Columns, query: str,
                   params: Sequence[object] = ()) -> list[tuple]:
        """Run a query that reads rows under ``name``: a temporary table filled from one list
        parameter a column. DuckDB's executemany costs about a millisecond a row; an Arrow
        table is as fast as lists but pyarrow's first conversion imports pandas, 48 MB and
        half a second in every ingest (measured), for nothing else needs it there."""
        select = ", ".join(f'unnest(?::{sql_type}[]) AS "{column}"'
                           for column, (sql_type, _) in columns.items())
        self._con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT {select}',
                          [list(values) for _, values in columns.values()])
        try:
            return self._con.execute(query, list(params)).fetchall()
        finally:
            self._con.execute(f'DROP TABLE IF EXISTS "{name}"')
