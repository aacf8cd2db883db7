"""The named SQL files of ``queries/`` (shipped in the wheel as ``rightsizer/_queries``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGED = Path(__file__).parent / "_queries"
_CHECKOUT = Path(__file__).parent.parent / "queries"


def queries_dir() -> Path:
    """The installed copy when there is one, else the checkout's (editable installs, tests)."""
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


@cache
def sql(name: str) -> str:
    """The text of ``queries/<name>.sql``, e.g. ``sql("duckdb/ingest/type_spool")``."""
    path = queries_dir() / f"{name}.sql"
    return path.read_text(encoding="utf-8")


def schema_migrations() -> list[tuple[int, str]]:
    """``queries/duckdb/schema/NNN_name.sql`` as (version, text), in order."""
    folder = queries_dir() / "duckdb" / "schema"
    return sorted((int(p.name.split("_", 1)[0]), p.read_text(encoding="utf-8"))
                  for p in folder.glob("[0-9][0-9][0-9]_*.sql"))


def sql_literal(value: str) -> str:
    """``value`` as an SQL string literal, for where a parameter cannot go (a table function's
    arguments in a view; Athena's ExecutionParameters, which take literals)."""
    return "'" + value.replace("'", "''") + "'"
