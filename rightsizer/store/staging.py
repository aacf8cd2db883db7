"""Typing a spool's events, in the reader processes, for the store's one writer.

A spool (``sources/cloudtrail.py``) is JSON text, one event a line. Typing it (parsing the JSON
and casting every field to the store's columns, ``queries/duckdb/ingest/type_spool.sql``) is the
largest part of what the store does with an event. The store has one writer, so that work is
done here, in each reader process, by a DuckDB of its own in memory: the writer then copies
typed rows in (``Store.load_spool``), which costs about a quarter as much (measured, see
docs/ingest.md).

The typed rows go from a reader to the writer as a Parquet file beside the spool, written and
read by DuckDB itself: a tenth of the JSON's size, and no library in the readers beyond DuckDB
(pyarrow alone would add about 36 MB to each; measured).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from rightsizer.sqlfiles import sql
from rightsizer.store import redact

TYPED_SUFFIX = ".parquet"

# A reader's DuckDB types one spool (a chunk of at most a few tens of MB of JSON) at a time.
STAGING_MEMORY = "128MB"
# Parquet row groups are held in memory until written: small ones keep a reader small (measured
# on 60k events: a peak of 159 MiB at 16,384 rows against 182 MiB at DuckDB's 122,880) and cost
# nothing in time either way.
TYPED_ROW_GROUP = 16_384

_connection: duckdb.DuckDBPyConnection | None = None


def _typing_connection() -> duckdb.DuckDBPyConnection:
    """The process's DuckDB for typing, made on first use: one thread, since the readers are
    as many as the cores."""
    global _connection
    if _connection is None:
        con = duckdb.connect(config={"threads": 1, "memory_limit": STAGING_MEMORY})
        con.execute("SET TimeZone = 'UTC'")
        text = duckdb.type("VARCHAR")
        con.create_function("rs_redact", redact.redact_json, [text, text], text,
                            null_handling="special", side_effects=False)
        _connection = con
    return _connection


def release() -> None:
    """Close this process's typing DuckDB, when an ingest is over: in a process that goes on
    (``rightsizer run``, a notebook), its memory would otherwise stay taken."""
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None


def type_spool(spool: Path) -> Path:
    """Type the events of a spool into a Parquet file beside it, and remove the spool.

    Raises OSError when the typed file cannot be written (a full disk), and RuntimeError when
    DuckDB fails otherwise; the spool is removed either way.
    """
    typed = spool.with_suffix(TYPED_SUFFIX)
    try:
        _typing_connection().execute(
            f"COPY ({_typing_query()}) TO $typed "
            f"(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE {TYPED_ROW_GROUP})",
            {"spool": str(spool), "typed": str(typed), "secret_keys": redact.sql_secret_keys()})
    except BaseException as exc:
        typed.unlink(missing_ok=True)  # a part written before the fault
        if isinstance(exc, duckdb.IOException):
            raise OSError(f"typing its events: {exc}") from None
        if isinstance(exc, duckdb.Error):
            raise RuntimeError(f"cannot type the spool {spool}: {exc}") from None
        raise
    finally:
        spool.unlink(missing_ok=True)
    return typed


def _typing_query() -> str:
    return sql("duckdb/ingest/type_spool").strip().removesuffix(";")
