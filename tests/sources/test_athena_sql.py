"""The SQL of queries/: every file parses in its dialect, and the Athena usage query, transpiled to
DuckDB by sqlglot and run over the same delivery files Athena would read, gives exactly the usage
rows the local path computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlglot
from athena_table import create_table, delivery_files, to_duckdb

import rightsizer
from rightsizer.pipeline import _athena_rows
from rightsizer.sources.athena import (
    PARAMETERS,
    AthenaUsageRow,
    rows_from_result,
    usage_parameters,
)
from rightsizer.sqlfiles import queries_dir, sql
from rightsizer.store.database import Store
from rightsizer.store.records import UsageRow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_logs" / "cloudtrail"


def _sql_files(dialect_dir: str) -> list[Path]:
    return sorted((queries_dir() / dialect_dir).rglob("*.sql"))


@pytest.mark.parametrize("path", _sql_files("duckdb"), ids=lambda p: p.name)
def test_every_duckdb_file_parses_as_duckdb(path: Path) -> None:
    statements = [s for s in sqlglot.parse(path.read_text(), read="duckdb") if s is not None]
    assert statements, path


@pytest.mark.parametrize("path", _sql_files("athena"), ids=lambda p: p.name)
def test_every_athena_file_parses_in_its_dialect(path: Path) -> None:
    text = path.read_text()
    # Queries are Trino; the table DDL is Hive DDL, which Athena runs through its Hive engine.
    dialect = "athena" if path.name.startswith("create_table") else "trino"
    statement = sqlglot.parse_one(text, read=dialect)
    kind = "Create" if path.name.startswith("create_table") else "Select"
    assert type(statement).__name__ == kind


def test_the_athena_query_picks_the_parameters_the_local_query_picks() -> None:
    local = sql("duckdb/analysis/usage")
    athena = sql("athena/usage")
    for name in PARAMETERS:
        assert f"'{name}'" in local, name
        assert (f"'$.{name}'" in athena or f'$["{name}"]' in athena), name
    # One bound parameter per value: nothing is formatted into the text.
    assert athena.count("?") == 6
    assert "{" not in athena.split("WITH", 1)[1]


# -- equivalence -------------------------------------------------------------------------------


def _window(files: list[Path], con: duckdb.DuckDBPyConnection) -> tuple[datetime, datetime]:
    first, last = con.execute(
        "SELECT min(CAST(eventtime AS TIMESTAMPTZ)), max(CAST(eventtime AS TIMESTAMPTZ)) "
        "FROM cloudtrail").fetchone()
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return start, end


def _athena(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime,
            principals: tuple[str, ...] = ()) -> list[AthenaUsageRow]:
    query = to_duckdb(sql("athena/usage"))
    accounts = [r[0] for r in con.execute(
        "SELECT DISTINCT account FROM cloudtrail ORDER BY 1").fetchall()]
    records = []
    for account in accounts:
        records += con.execute(query, usage_parameters(account, since, until,
                                                       principals)).fetchall()
    return rows_from_result(records)


def _usage_key(row: UsageRow | AthenaUsageRow) -> tuple[object, ...]:
    return (row.principal, row.event_source, row.event_name, row.region, row.account,
            row.request_key, tuple(row.resource_arns), row.day, row.error_class, row.invoked_by,
            row.calls, row.first_seen.replace(tzinfo=None), row.last_seen.replace(tzinfo=None),
            row.error_code)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("athena-sim")
    # Files every five minutes, as CloudTrail delivers: no file holds events of two days ago.
    # (sample_logs packs 40 events a file, so one file there can span a week.)
    rightsizer.simulate_account(out / "account", events=4000, seed=11, services=5, days=20)
    return out / "account" / "cloudtrail"


def _setup(logs: Path, tmp: Path) -> tuple[Path, duckdb.DuckDBPyConnection]:
    db = tmp / "local.duckdb"
    summary = rightsizer.ingest([str(logs)], db)
    assert summary.ok, summary.bad_inputs
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    records = create_table(con, delivery_files(logs), tmp)
    assert records > summary.events_ingested - 1  # duplicates delivered twice are read twice
    return db, con


@pytest.mark.parametrize(("which", "narrow"), [
    ("sample_logs", False), ("simulated", False), ("simulated", True)])
def test_athena_usage_query_gives_the_local_usage_rows(which: str, narrow: bool,
                                                        simulated: Path, tmp_path: Path) -> None:
    logs = SAMPLE if which == "sample_logs" else simulated
    db, con = _setup(logs, tmp_path)
    since, until = _window(delivery_files(logs), con)
    if narrow:  # partition pruning and the day of slack must not lose or add a row
        since, until = since + timedelta(days=5), until - timedelta(days=6)
    athena = _athena(con, since, until)
    with Store(db, read_only=True) as store:
        local = store.usage(since, until)
        ecs = store.ecs_assumed_roles(since, until)
    roles = {e.role_arn for e in ecs}
    assert roles, "the data must hold ECS assuming roles"
    expected = sorted(_usage_key(r) for r in local if r.principal in roles)
    got = sorted(_usage_key(r) for r in athena if r.kind == "call")
    assert len(expected) > 50
    assert got == expected

    # ECS's assumptions come home per day: their sums are the local figures.
    assumed: dict[str, list[AthenaUsageRow]] = {}
    for row in athena:
        if row.kind == "ecs_assume":
            assumed.setdefault(row.principal, []).append(row)
    assert set(assumed) == roles
    for e in ecs:
        rows = assumed[e.role_arn]
        assert sum(r.calls for r in rows) == e.assumptions
        assert min(r.first_seen for r in rows) == e.first_seen.replace(tzinfo=None)
        assert max(r.last_seen for r in rows) == e.last_seen.replace(tzinfo=None)
        assert max(r.sessions for r in rows) <= e.sessions


def test_given_principals_come_home_too(tmp_path: Path) -> None:
    db, con = _setup(SAMPLE, tmp_path)
    since, until = _window(delivery_files(SAMPLE), con)
    with Store(db, read_only=True) as store:
        local = store.usage(since, until)
        roles = {e.role_arn for e in store.ecs_assumed_roles(since, until)}
    others = sorted({r.principal for r in local if r.principal not in roles
                     and ":role/" in r.principal})
    assert others, "sample_logs has non-ECS roles"
    without = {r.principal for r in _athena(con, since, until)}
    assert not without & set(others)
    with_them = _athena(con, since, until, principals=(others[0],))
    got = sorted(_usage_key(r) for r in with_them if r.principal == others[0])
    assert got == sorted(_usage_key(r) for r in local if r.principal == others[0])


def test_athena_rows_in_the_store_read_back_as_the_local_usage(tmp_path: Path) -> None:
    db, con = _setup(SAMPLE, tmp_path)
    since, until = _window(delivery_files(SAMPLE), con)
    rows = _athena(con, since, until)
    athena_db = tmp_path / "athena.duckdb"
    with Store(athena_db) as store:
        for account in sorted({r.account for r in rows}):
            mine = [r for r in rows if r.account == account]
            store.replace_athena_usage("athena://ct.trail", account, _athena_rows(mine), {
                "query_id": f"q-{account}", "since": since.replace(tzinfo=None),
                "until": until.replace(tzinfo=None), "first_partition": "",
                "last_partition": "", "bytes_scanned": 1, "cost_usd": 0.0,
                "rows": len(mine), "seconds": 0.0}, "run-1")
        assert store.count("events") == 0
        from_athena = store.usage(since, until)
        ecs_athena = store.ecs_assumed_roles(since, until)
        span = store.event_span(since, until)
    with Store(db, read_only=True) as store:
        roles = {e.role_arn for e in store.ecs_assumed_roles(since, until)}
        local = [r for r in store.usage(since, until) if r.principal in roles]
        ecs_local = store.ecs_assumed_roles(since, until)
    assert sorted(map(_usage_key, from_athena)) == sorted(map(_usage_key, local))
    assert [(e.role_arn, e.assumptions) for e in ecs_athena] == \
        [(e.role_arn, e.assumptions) for e in ecs_local]
    assert span.events == sum(r.calls for r in local)

