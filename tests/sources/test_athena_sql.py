"""The SQL of queries/: every file parses in its dialect, and the Athena usage query, transpiled to
DuckDB by sqlglot and run over the same delivery files Athena would read, gives exactly the usage
rows the local path computes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlglot
from athena_table import create_table, delivery_files, to_duckdb

import rightsizer
from rightsizer.errors import ConfigError, SourceError
from rightsizer.pipeline.ingest import _athena_rows
from rightsizer.sources.athena import (
    PARAMETERS,
    AthenaUsageRow,
    TableLayout,
    billed_cost,
    parse_athena_uri,
    partition_range,
    request_key,
    rows_from_result,
    table_ddl,
    usage_parameters,
)
from rightsizer.sqlfiles import queries_dir, sql, sql_literal
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
        assert f"'\"{name}\":'" in local, name  # the key usage.sql writes
        assert (f"'$.{name}'" in athena or f'$["{name}"]' in athena), name
    # One bound parameter per value: nothing is formatted into the text.
    assert athena.count("?") == 7
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
            principals: tuple[str, ...] = (),
            accounts: tuple[str, ...] | None = None) -> list[AthenaUsageRow]:
    """The Athena query's rows, one query per account of the table (or of ``accounts``), as
    one run of every such account makes them."""
    query = to_duckdb(sql("athena/usage"))
    if accounts is None:
        accounts = tuple(r[0] for r in con.execute(
            "SELECT DISTINCT account FROM cloudtrail ORDER BY 1").fetchall())
    records = []
    for account in accounts:
        records += con.execute(query, usage_parameters(account, since, until, principals,
                                                       accounts)).fetchall()
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



# -- the pieces --------------------------------------------------------------------------------


def _layout(**kwargs: object) -> TableLayout:
    base: dict[str, object] = {
        "database": "cloudtrail", "table": "org_trail", "bucket": "org-trail-logs",
        "regions": ("eu-west-1", "us-east-1"), "projection_start": date(2024, 1, 1),
        "organization_id": "o-2gwjitpafm"}
    return TableLayout(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(("layout", "location", "template", "account_projection"), [
    (_layout(), "s3://org-trail-logs/AWSLogs/o-2gwjitpafm/",
     "s3://org-trail-logs/AWSLogs/o-2gwjitpafm/${account}/CloudTrail/${region}/${timestamp}",
     "'projection.account.type' = 'injected'"),
    (_layout(organization_id=None, accounts=("111122223333",), prefix="trails/"),
     "s3://org-trail-logs/trails/AWSLogs/111122223333/CloudTrail/",
     "s3://org-trail-logs/trails/AWSLogs/${account}/CloudTrail/${region}/${timestamp}",
     "'projection.account.values' = '111122223333'"),
])
def test_table_ddl_fills_the_layout_and_keeps_the_projection_placeholders(
        layout: TableLayout, location: str, template: str, account_projection: str) -> None:
    ddl = table_ddl(layout)
    assert f"LOCATION '{location}'" in ddl
    assert f"'storage.location.template' = '{template}'" in ddl
    assert account_projection in ddl
    assert "'projection.region.values' = 'eu-west-1,us-east-1'" in ddl
    assert "'projection.timestamp.range' = '2024/01/01,NOW'" in ddl
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS `cloudtrail`.`org_trail`" in ddl
    assert not re.search(r"(?<!\$)\{\w+\}", ddl), "a placeholder was left unfilled"
    sqlglot.parse_one(ddl, read="athena")


@pytest.mark.parametrize(("change", "named"), [
    ({"bucket": "Bad_Bucket"}, "bucket"),
    ({"bucket": "x' OR '1"}, "bucket"),
    ({"regions": ("eu-west-1'",)}, "region"),
    ({"organization_id": "o-short"}, "organization_id"),
    ({"database": "db-name"}, "database"),
    ({"prefix": "/abs/"}, "prefix"),
    ({"regions": ()}, "regions"),
    ({"organization_id": None, "accounts": ("111122223333", "444455556666")}, "one account"),
])
def test_table_ddl_refuses_values_that_could_change_the_statement(change: dict[str, object],
                                                                   named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        table_ddl(_layout(**change))


@pytest.mark.parametrize(("parameters", "key"), [
    (None, "{}"),
    ("[]", "{}"),
    ("[" + ",".join(["null"] * len(PARAMETERS)) + "]", "{}"),
    ('["b",' + '"k/1",' + ",".join(["null"] * (len(PARAMETERS) - 2)) + "]",
     '{"bucketName":"b","key":"k/1"}'),
    # empty lists (requestItems with no tables) are dropped, as usage.sql drops '[]'
    ("[" + ",".join(["[]" if n == "requestItems" else "null" for n in PARAMETERS]) + "]", "{}"),
    ("[" + ",".join(['["t1","t2"]' if n == "requestItems" else "null" for n in PARAMETERS])
     + "]", '{"requestItems":["t1","t2"]}'),
])
def test_request_key_is_the_local_request_key(parameters: str | None, key: str) -> None:
    assert request_key(parameters) == key


def test_request_key_refuses_a_query_of_another_shape() -> None:
    with pytest.raises(SourceError, match="38"):
        request_key('["a", "b"]')


@pytest.mark.parametrize(("scanned", "usd"), [
    (0, 10 * 2**20 * 5 / 2**40),               # the 10 MB minimum
    (1, 10 * 2**20 * 5 / 2**40),
    (10 * 2**20 + 1, 11 * 2**20 * 5 / 2**40),  # rounded up to the megabyte
    (2**40, 5.0),
])
def test_billed_cost(scanned: int, usd: float) -> None:
    assert billed_cost(scanned) == pytest.approx(usd)


def test_usage_parameters_are_validated_values_in_query_order() -> None:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    until = datetime(2026, 10, 31, tzinfo=UTC)
    role = "arn:aws:iam::111122223333:role/path/with,comma+name"
    assert usage_parameters("111122223333", since, until, (role, role)) == [
        "111122223333", "2026/10/01", "2026/10/31", "2026-10-01T00:00:00Z",
        "2026-10-31T00:00:00Z", "111122223333", role]
    assert usage_parameters("111122223333", since, until, (), ("444455556666",))[5] == (
        "111122223333\n444455556666")
    assert partition_range(date(2026, 10, 1), date(2026, 10, 31)) == ("2026/10/01", "2026/10/31")
    for bad in ("12345", "111122223333' OR '1'='1"):
        with pytest.raises(ConfigError):
            usage_parameters(bad, since, until)
    with pytest.raises(ConfigError, match="role ARN"):
        usage_parameters("111122223333", since, until, ("arn:aws:iam::1:role/x\ny",))
    with pytest.raises(ConfigError, match="empty window"):
        usage_parameters("111122223333", until, since)


def test_literals_escape_quotes() -> None:
    assert sql_literal("it's") == "'it''s'"


@pytest.mark.parametrize("uri", ["athena://db", "athena://db.t.x", "s3://b/p", "athena://d-b.t"])
def test_parse_athena_uri_refuses_other_shapes(uri: str) -> None:
    with pytest.raises(ConfigError, match=r"athena://DATABASE\.TABLE"):
        parse_athena_uri(uri)
    assert parse_athena_uri("athena://CloudTrail.Org_Trail").uri == "athena://cloudtrail.org_trail"


def test_a_cross_account_call_counts_once_on_the_caller_as_locally(tmp_path: Path) -> None:
    """tests/organization.py: SHOP's role reads DATA's bucket, recorded in both accounts with
    one sharedEventID. Queried one account at a time, the rows still count it once, as the local
    query does; with only DATA queried, DATA's copies are the evidence and count."""
    from organization import DATA, DAYS, SHOP, write_organization

    logs = write_organization(tmp_path / "org", files=False) / "cloudtrail"
    db, con = _setup(logs, tmp_path)
    since, until = _window(delivery_files(logs), con)
    roles = tuple(f"arn:aws:iam::{a}:role/ecs/app-task" for a in (SHOP, DATA))
    with Store(db, read_only=True) as store:
        local = store.usage(since, until)
    athena = _athena(con, since, until, principals=roles)
    assert sorted(_usage_key(r) for r in athena) == sorted(_usage_key(r) for r in local)
    shop_reads = [r for r in athena if r.principal == roles[0] and r.event_name == "GetObject"]
    assert sum(r.calls for r in shop_reads) == DAYS * 8
    only_data = _athena(con, since, until, principals=roles, accounts=(DATA,))
    assert sum(r.calls for r in only_data if r.principal == roles[0]) == DAYS * 4
