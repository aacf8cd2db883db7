"""Athena end to end through moto's server over HTTP: the CLI runs ``usage.sql`` through PyAthena
against moto, which does not execute queries, so each query's result is queued beforehand
(``/moto-api/static/athena/query-results``). The queued rows are what Athena would return: the
Athena usage query, transpiled to DuckDB by sqlglot, run over the Athena table built from the same
delivery files (tests/athena_table.py), as 16 strings a row the way Athena prints them, header row
first. Each test works in a fresh moto account, so queues and executions never mix."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import sqlglot
from athena_table import create_table, delivery_files, to_duckdb
from click.testing import CliRunner
from helpers import enter_fresh_account

from rightsizer.cli import main
from rightsizer.sources.athena import (
    COLUMNS,
    MIN_BYTES_BILLED,
    PRICE_PER_TB,
    rows_from_result,
    usage_parameters,
)
from rightsizer.sources.aws import AwsOptions, make_aws_client
from rightsizer.sources.s3 import S3Options, make_client
from rightsizer.sqlfiles import sql
from rightsizer.store.database import Store
from rightsizer.store.records import UsageRow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
LOGS = SAMPLE / "cloudtrail"
IAM = str(SAMPLE / "iam/authorization-details.json")
ECS = str(SAMPLE / "ecs/task-definitions.json")
TRAIL = str(SAMPLE / "trail/event-selectors.json")

TABLE = "athena://cloudtrail.org_trail"
QUOTED_TABLE = '"cloudtrail"."org_trail"'
REGION = "eu-west-1"  # where Athena runs (moto keeps one queue per account and region)
ONE_QUERY_COST = MIN_BYTES_BILLED * PRICE_PER_TB / 2**40  # moto scans 0 bytes: the minimum
_TYPES = {"day": "date", "calls": "bigint", "sessions": "bigint", "first_seen": "timestamp",
          "last_seen": "timestamp"}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# -- Athena's results, as moto serves them ------------------------------------------------------


def _athena_text(value: object) -> str | None:
    """A value as Athena prints it in GetQueryResults."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _cell(text: str | None) -> dict[str, str]:
    return {} if text is None else {"VarCharValue": text}  # NULL: no VarCharValue


def athena_result(records: Sequence[Sequence[object]]) -> dict[str, Any]:
    """One query's result for moto's queue: the header row first, as real Athena returns it."""
    header = {"Data": [_cell(name) for name in COLUMNS]}
    rows = [{"Data": [_cell(_athena_text(v)) for v in record]} for record in records]
    column_info = [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name,
                    "Label": name, "Type": _TYPES.get(name, "varchar"), "Precision": 0,
                    "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": name not in _TYPES}
                   for name in COLUMNS]
    return {"rows": [header, *rows], "column_info": column_info}


def queue_results(endpoint: str, account: str, results: Sequence[dict[str, Any]]) -> None:
    """Queue results in moto: each StartQueryExecution of ``account`` in REGION takes the next."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results", method="POST",
        data=json.dumps({"account_id": account, "region": REGION,
                         "results": list(results)}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


def athena_client(endpoint: str) -> Any:
    return make_aws_client("athena", AwsOptions(endpoint_url=endpoint, region=REGION))


def executions(endpoint: str) -> list[dict[str, Any]]:
    """Every query moto recorded in the current account (oldest first)."""
    client = athena_client(endpoint)
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def _usage_key(row: UsageRow) -> tuple[object, ...]:
    """As tests/sources/test_athena_sql.py compares usage rows."""
    return (row.principal, row.event_source, row.event_name, row.region, row.account,
            row.request_key, tuple(row.resource_arns), row.day, row.error_class, row.invoked_by,
            row.calls, row.first_seen.replace(tzinfo=None), row.last_seen.replace(tzinfo=None),
            row.error_code)


def usage_keys(db: Path) -> list[tuple[object, ...]]:
    with Store(db, read_only=True) as store:
        return sorted(map(_usage_key, store.usage()))


# -- the sample, locally and through Athena -----------------------------------------------------


@dataclass(frozen=True)
class Local:
    db: Path  # store A: sample_logs ingested from files
    since: datetime  # the window [since, until), midnights UTC
    until: datetime
    records: dict[str, list[tuple[object, ...]]]  # account -> what Athena's usage query returns

    @property
    def accounts(self) -> list[str]:
        return sorted(self.records)

    @property
    def window_args(self) -> tuple[str, ...]:
        last = self.until - timedelta(days=1)
        return ("--since", f"{self.since:%Y-%m-%d}", "--until", f"{last:%Y-%m-%d}")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Local:
    tmp = tmp_path_factory.mktemp("athena-local")
    db = tmp / "a.duckdb"
    code, _, err = invoke("ingest", str(LOGS), "--db", str(db), "--workers", "1")
    assert code == 0, err
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        create_table(con, delivery_files(LOGS), tmp)
        first, last = con.execute(
            "SELECT min(CAST(eventtime AS TIMESTAMPTZ)), max(CAST(eventtime AS TIMESTAMPTZ)) "
            "FROM cloudtrail").fetchone()
        since = datetime(first.year, first.month, first.day, tzinfo=UTC)
        until = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        accounts = [r[0] for r in con.execute(
            "SELECT DISTINCT account FROM cloudtrail ORDER BY 1").fetchall()]
        query = to_duckdb(sql("athena/usage"))
        records = {a: con.execute(query, usage_parameters(a, since, until, (),
                                                          accounts)).fetchall()
                   for a in accounts}
    # One account's partitions hold no ECS role: its query returns the header row only.
    assert len(accounts) == 2 and any(records.values())
    return Local(db, since, until, records)


@dataclass(frozen=True)
class ThroughAthena:
    db: Path  # store B: the same sample, aggregated "in Athena"
    code: int
    summary: dict[str, Any]
    stderr: str
    account: str  # the moto account the queries ran in
    bucket: str
    executions: list[dict[str, Any]]
    result_files: dict[str, bytes]  # what moto wrote to the bucket


def ingest_args(db: Path, bucket: str, endpoint: str, *extra: str) -> list[str]:
    return ["ingest", TABLE, "--db", str(db), "--workgroup", "primary",
            "--output-location", f"s3://{bucket}/results/", "--endpoint-url", endpoint,
            "--region", REGION, "--athena-concurrency", "1", "--json", *extra]


@pytest.fixture(scope="module")
def through_athena(local: Local, moto_server: str,
                   tmp_path_factory: pytest.TempPathFactory) -> ThroughAthena:
    db = tmp_path_factory.mktemp("athena-b") / "b.duckdb"
    with pytest.MonkeyPatch.context() as env:
        account = enter_fresh_account(moto_server, env)
        bucket = f"athena-results-{account}"
        s3 = make_client(S3Options(endpoint_url=moto_server))
        s3.create_bucket(Bucket=bucket)
        # With one query in flight, accounts are queried in sorted order: the queue's order.
        queue_results(moto_server, account,
                      [athena_result(local.records[a]) for a in local.accounts])
        accounts = [arg for a in local.accounts for arg in ("--account", a)]
        code, out, err = invoke(*ingest_args(db, bucket, moto_server, *accounts,
                                             *local.window_args))
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        files = {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                 for o in listed}
        return ThroughAthena(db, code, orjson.loads(out) if out else {}, err, account, bucket,
                             executions(moto_server), files)


@pytest.fixture
def fresh_account(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield enter_fresh_account(moto_server, monkeypatch)


# -- 1. the CLI's Athena ingest gives the local usage -------------------------------------------


def test_athena_ingest_through_the_cli_stores_the_local_usage(
        local: Local, through_athena: ThroughAthena) -> None:
    got = through_athena
    assert got.code == 0, got.stderr
    assert got.summary["bad_inputs"] == []
    queries = got.summary["athena_queries"]
    assert [q["account"] for q in queries] == local.accounts
    assert ONE_QUERY_COST == 10 * 2**20 * 5 / 2**40
    for query in queries:
        assert query["source"] == TABLE and query["query_id"]
        assert (query["since"], query["until"]) == (f"{local.since:%Y-%m-%d}",
                                                    f"{local.until:%Y-%m-%d}")
        assert query["bytes_scanned"] == 0
        assert query["cost_usd"] == ONE_QUERY_COST
        assert query["rows"] == len(rows_from_result(local.records[query["account"]]))
    assert got.summary["athena_bytes_scanned"] == 0
    assert got.summary["athena_cost_usd"] == round(2 * ONE_QUERY_COST, 6)

    # Store B holds what store A computes for the roles ECS assumed.
    with Store(local.db, read_only=True) as store:
        roles = {e.role_arn for e in store.ecs_assumed_roles(local.since, local.until)}
        expected = sorted(_usage_key(r) for r in store.usage(local.since, local.until)
                          if r.principal in roles)
    assert len(expected) > 50
    assert usage_keys(got.db) == expected
    with Store(got.db, read_only=True) as store:
        assert store.count("events") == 0
        assert {e.role_arn for e in store.ecs_assumed_roles()} == roles
        stored = store.athena_queries()
    assert sorted((q["account"], q["query_id"]) for q in stored) == [
        (q["account"], q["query_id"]) for q in queries]
    with duckdb.connect(str(got.db), read_only=True) as con:  # each account's rows, its own
        assert con.execute("SELECT count(*) FROM athena_usage WHERE account <> query_account "
                           "AND kind = 'call'").fetchone() == (0,)

    # What moto recorded: the workgroup, the output location, usage.sql with the table named,
    # and every value bound as a quoted literal, never formatted into the text.
    assert [e["QueryExecutionId"] for e in got.executions] == [q["query_id"] for q in queries]
    text = sql("athena/usage")
    for execution, account in zip(got.executions, local.accounts, strict=True):
        assert execution["WorkGroup"] == "primary"
        assert execution["Status"]["State"] == "SUCCEEDED"
        assert execution["ResultConfiguration"]["OutputLocation"] == (
            f"s3://{got.bucket}/results/{execution['QueryExecutionId']}.csv")
        query = execution["Query"]
        assert f"FROM {QUOTED_TABLE}" in query
        assert query.replace(f"FROM {QUOTED_TABLE}", "FROM cloudtrail") == text
        assert query.count("?") == 7
        assert execution["ExecutionParameters"] == [
            f"'{account}'", f"'{local.since:%Y/%m/%d}'", f"'{local.until:%Y/%m/%d}'",
            f"'{local.since:%Y-%m-%dT%H:%M:%SZ}'", f"'{local.until:%Y-%m-%dT%H:%M:%SZ}'",
            "'" + "\n".join(local.accounts) + "'", "''"]
        for value in (account, f"{local.since:%Y/%m/%d}", f"{local.since:%Y-%m-%d}T"):
            assert value not in query
    # moto wrote each result as CSV to the output location.
    assert sorted(got.result_files) == sorted(f"results/{q['query_id']}.csv" for q in queries)
    for query in queries:
        lines = got.result_files[f"results/{query['query_id']}.csv"].decode().splitlines()
        assert lines[0] == ",".join(f'"{name}"' for name in COLUMNS)  # the header row
        assert len(lines) == 1 + len(local.records[query["account"]])


# -- 2. the analysis of Athena's aggregates is the local one ------------------------------------


def test_run_on_the_athena_store_proposes_what_the_local_store_does(
        local: Local, through_athena: ThroughAthena, tmp_path: Path) -> None:
    assert through_athena.code == 0, through_athena.stderr
    outs = {}
    for name, db in (("local", local.db), ("athena", through_athena.db)):
        out = tmp_path / name
        code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--trail", TRAIL, "--db",
                              str(db), "--out", str(out), *local.window_args)
        assert code == 0, err
        outs[name] = out
    policies = {name: {p.relative_to(out).as_posix(): p.read_bytes()
                       for p in sorted(out.glob("roles/*/policy.json"))}
                for name, out in outs.items()}
    assert len(policies["local"]) >= 5
    assert policies["athena"] == policies["local"]

    def actions(out: Path) -> dict[str, tuple[list[str], list[str]]]:
        summary = orjson.loads((out / "summary.json").read_bytes())
        return {r["name"]: (r["proposed_actions"], r["used_actions"]) for r in summary["roles"]}

    local_actions = actions(outs["local"])
    assert any(used for _, used in local_actions.values())
    assert actions(outs["athena"]) == local_actions


# -- 3. incremental and idempotent --------------------------------------------------------------


def _copy(db: Path, to: Path) -> Path:
    shutil.copyfile(db, to)
    return to


def _calls(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT query_account, kind, principal, day, sum(calls), count(*) FROM athena_usage "
            "GROUP BY ALL ORDER BY ALL").fetchall()


def test_settled_days_are_not_asked_again(local: Local, through_athena: ThroughAthena,
                                          fresh_account: str, tmp_path: Path,
                                          moto_server: str) -> None:
    assert through_athena.code == 0, through_athena.stderr
    if datetime.now(UTC).date() < local.until.date() + timedelta(days=2):
        pytest.skip("the sample's last day has not settled by this clock")
    db = _copy(through_athena.db, tmp_path / "again.duckdb")
    before = (usage_keys(db), _calls(db))
    accounts = [arg for a in local.accounts for arg in ("--account", a)]
    code, out, err = invoke(*ingest_args(db, through_athena.bucket, moto_server, *accounts,
                                         *local.window_args))
    assert code == 0, err
    assert orjson.loads(out)["athena_queries"] == []
    assert executions(moto_server) == []  # no query reached Athena
    assert (usage_keys(db), _calls(db)) == before


def _recent(records: Sequence[tuple[object, ...]], day: date) -> list[tuple[object, ...]]:
    """A few of the sample's rows, moved to ``day`` (a query of a recent window returns only
    rows of that window)."""
    index = {name: i for i, name in enumerate(COLUMNS)}
    picked = [next(r for r in records if r[0] == "ecs_assume"),
              *[r for r in records if r[0] == "call"][:3]]
    moved = []
    for record in picked:
        row = list(record)
        for name in ("first_seen", "last_seen"):
            moment = row[index[name]]
            assert isinstance(moment, datetime)
            row[index[name]] = datetime.combine(day, moment.time())
        row[index["day"]] = day
        moved.append(tuple(row))
    return moved


def test_an_unsettled_window_is_replaced_not_added(local: Local, fresh_account: str,
                                                    moto_server: str, s3_bucket: tuple[Any, str],
                                                    tmp_path: Path) -> None:
    _, bucket = s3_bucket
    account = next(a for a in local.accounts if local.records[a])
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    recent = _recent(local.records[account], yesterday)
    expected_rows = rows_from_result(recent)
    result = athena_result(recent)
    db = tmp_path / "recent.duckdb"
    args = ingest_args(db, bucket, moto_server, "--account", account,
                       "--since", f"{yesterday:%Y-%m-%d}", "--until", f"{today:%Y-%m-%d}")

    queue_results(moto_server, fresh_account, [result])
    code, out, err = invoke(*args)
    assert code == 0, err
    first = orjson.loads(out)["athena_queries"]
    assert [(q["account"], q["since"], q["until"], q["rows"]) for q in first] == [
        (account, f"{yesterday:%Y-%m-%d}", f"{today + timedelta(days=1):%Y-%m-%d}",
         len(expected_rows))]
    stored = (usage_keys(db), _calls(db))
    assert len(stored[0]) == sum(r.kind == "call" for r in expected_rows) > 0
    assert sum(int(c[4]) for c in stored[1]) == sum(r.calls for r in expected_rows)

    # Not settled: asked again, and the answer replaces the rows instead of adding to them.
    queue_results(moto_server, fresh_account, [result])
    code, out, err = invoke(*args)
    assert code == 0, err
    second = orjson.loads(out)["athena_queries"]
    assert len(second) == 1 and second[0]["query_id"] != first[0]["query_id"]
    assert len(executions(moto_server)) == 2
    assert (usage_keys(db), _calls(db)) == stored
    with Store(db, read_only=True) as store:
        assert len(store.athena_queries()) == 2


# -- 4. errors ----------------------------------------------------------------------------------


def test_a_failed_query_is_a_named_bad_input_and_the_stored_rows_stay(
        local: Local, fresh_account: str, moto_server: str, s3_bucket: tuple[Any, str],
        tmp_path: Path) -> None:
    _, bucket = s3_bucket
    account = next(a for a in local.accounts if local.records[a])
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    window = ("--account", account, "--since", f"{yesterday:%Y-%m-%d}",
              "--until", f"{today:%Y-%m-%d}")
    db = tmp_path / "failed.duckdb"
    queue_results(moto_server, fresh_account,
                  [athena_result(_recent(local.records[account], yesterday))])
    code, _, err = invoke(*ingest_args(db, bucket, moto_server, *window))
    assert code == 0, err
    before = (usage_keys(db), _calls(db))
    assert before[0]

    # The same (unsettled) window again, in a workgroup moto does not have: StartQueryExecution
    # fails with InvalidRequestException.
    args = ingest_args(db, bucket, moto_server, *window)
    args[args.index("primary")] = "no_such_workgroup"
    code, out, err = invoke(*args)
    assert code == 4, (out, err)
    lines = [line for line in err.splitlines() if "bad input" in line]
    assert len(lines) == 1, err
    # Named once, with Athena's own error code and message, and no traceback.
    assert lines[0] == (f"rightsizer: bad input: {TABLE} account {account}: the usage query "
                        "failed: InvalidRequestException: WorkGroup does not exist")
    assert "Traceback" not in err
    summary = orjson.loads(out)
    assert summary["athena_queries"] == [] and len(summary["bad_inputs"]) == 1
    assert len(executions(moto_server)) == 1  # the failed one never started
    assert (usage_keys(db), _calls(db)) == before
    with Store(db, read_only=True) as store:
        assert len(store.athena_queries()) == 1
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT uri FROM bad_inputs").fetchall() == [
            (f"{TABLE} account {account}",)]


def test_athena_ingest_needs_accounts_and_a_table_name(moto_server: str, tmp_path: Path) -> None:
    db = str(tmp_path / "x.duckdb")
    code, _, err = invoke("ingest", TABLE, "--db", db, "--endpoint-url", moto_server,
                          "--region", REGION)
    assert code == 2
    assert "--account" in err and TABLE in err
    code, _, err = invoke("ingest", "athena://cloudtrail", "--db", db, "--account",
                          "111122223333", "--endpoint-url", moto_server)
    assert code == 2
    assert "athena://cloudtrail" in err and "athena://DATABASE.TABLE" in err


# -- 5. athena setup ----------------------------------------------------------------------------

SETUP = ("athena", "setup", "--table", TABLE, "--layout", "organization", "--organization-id",
         "o-abcdefghij", "--bucket", "org-trail", "--log-region", "eu-west-1", "--log-region",
         "us-east-1", "--projection-start", "2024-01-01")


def _statements(printed: str) -> list[str]:
    return [s.strip() for s in printed.split(";\n") if s.strip()]


def test_athena_setup_prints_the_organization_table() -> None:
    code, out, err = invoke(*SETUP)
    assert code == 0, err
    database, table = _statements(out)
    assert database == "CREATE DATABASE IF NOT EXISTS `cloudtrail`"
    assert "CREATE EXTERNAL TABLE" in table and "org_trail" in table
    assert "'projection.account.type' = 'injected'" in table
    assert ("s3://org-trail/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${timestamp}"
            in table)
    assert "eu-west-1,us-east-1" in table and "2024/01/01" in table
    for statement, kind in ((database, "Create"), (table, "Create")):
        parsed = sqlglot.parse_one(statement, read="athena")
        assert type(parsed).__name__ == kind


def test_athena_setup_apply_creates_the_database(fresh_account: str, moto_server: str,
                                                 s3_bucket: tuple[Any, str]) -> None:
    _, bucket = s3_bucket
    printed = invoke(*SETUP)[1]
    code, out, err = invoke(*SETUP, "--apply", "--endpoint-url", moto_server,
                            "--output-location", f"s3://{bucket}/ddl/", "--region", REGION)
    assert code == 0, err
    assert out == printed
    recorded = executions(moto_server)
    assert [e["Query"].strip().rstrip(";").strip() for e in recorded] == _statements(printed)
    assert all(e["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{bucket}/ddl/")
               for e in recorded)
    assert all(e["WorkGroup"] == "primary" and e["Status"]["State"] == "SUCCEEDED"
               for e in recorded)
    ids = [e["QueryExecutionId"] for e in recorded]
    assert f"-- created {TABLE} (queries {', '.join(ids)})" in err
    # PyAthena names the catalog "awsdatacatalog" in QueryExecutionContext, and moto keeps the
    # database under the name as given (Athena's catalog names are case-insensitive).
    catalog = recorded[0]["QueryExecutionContext"]["Catalog"]
    assert catalog.lower() == "awsdatacatalog"
    database = athena_client(moto_server).get_database(CatalogName=catalog,
                                                       DatabaseName="cloudtrail")
    assert database["Database"]["Name"] == "cloudtrail"


def test_athena_setup_rejects_a_bad_bucket_and_two_accounts() -> None:
    args = list(SETUP)
    args[args.index("org-trail")] = "Bad_Bucket"
    code, _, err = invoke(*args)
    assert code == 2 and "Bad_Bucket" in err
    code, _, err = invoke("athena", "setup", "--table", TABLE, "--layout", "account",
                          "--account", "111122223333", "--account", "444455556666",
                          "--bucket", "org-trail", "--log-region", "eu-west-1")
    assert code == 2 and "exactly one account" in err


# -- run with an Athena source: the ECS roles IAM and the task definitions name are asked for --


def test_run_with_an_athena_source_asks_for_the_inventory_roles_and_proposes_the_local_policies(
        local: Local, fresh_account: str, moto_server: str, s3_bucket: tuple[Any, str],
        tmp_path: Path) -> None:
    from rightsizer.pipeline import inventory

    _, bucket = s3_bucket
    queue_results(moto_server, fresh_account,
                  [athena_result(local.records[a]) for a in local.accounts])
    accounts = [arg for a in local.accounts for arg in ("--account", a)]
    out = tmp_path / "athena-run"
    code, printed, err = invoke(
        "run", "--logs", TABLE, *accounts, "--athena-concurrency", "1", "--workgroup", "primary",
        "--output-location", f"s3://{bucket}/results/", "--endpoint-url", moto_server,
        "--region", REGION, "--iam", IAM, "--ecs", ECS, "--trail", TRAIL,
        "--db", str(tmp_path / "run.duckdb"), "--out", str(out), *local.window_args, "--json")
    assert code == 0, err
    result = orjson.loads(printed)
    assert result["athena"] == {"queries": 2, "bytes_scanned": 0,
                                "cost_usd": round(2 * ONE_QUERY_COST, 6)}
    # The roles the inventory knows from IAM and the task definitions went as one parameter.
    known = sorted({r.arn for r in inventory(IAM, ECS).ecs_roles})
    assert known
    for execution in executions(moto_server):
        assert execution["ExecutionParameters"][6] == "'" + "\n".join(known) + "'"
    local_out = tmp_path / "local-run"
    code, _, err = invoke("run", "--iam", IAM, "--ecs", ECS, "--trail", TRAIL, "--db",
                          str(local.db), "--out", str(local_out), *local.window_args)
    assert code == 0, err
    for policy in sorted(local_out.glob("roles/*/policy.json")):
        assert (out / policy.relative_to(local_out)).read_bytes() == policy.read_bytes()
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert [q["account"] for q in summary["ingest"]["athena_queries"]] == local.accounts


def test_ingest_reads_its_athena_source_and_settings_from_the_configuration(
        local: Local, fresh_account: str, moto_server: str, s3_bucket: tuple[Any, str],
        tmp_path: Path) -> None:
    _, bucket = s3_bucket
    queue_results(moto_server, fresh_account,
                  [athena_result(local.records[a]) for a in local.accounts])
    db = tmp_path / "configured.duckdb"
    accounts = ", ".join(f'"{a}"' for a in local.accounts)
    last = local.until - timedelta(days=1)
    config = tmp_path / "rightsizer.toml"
    config.write_text(f"""
[sources]
athena = ["{TABLE}"]
[store]
path = "{db}"
[aws]
endpoint_url = "{moto_server}"
[athena]
workgroup = "primary"
output_location = "s3://{bucket}/configured/"
region = "{REGION}"
accounts = [{accounts}]
concurrency = 1
[window]
since = {local.since:%Y-%m-%d}
until = {last:%Y-%m-%d}
""")
    code, out, err = invoke("ingest", "--config", str(config), "--json")
    assert code == 0, err
    summary = orjson.loads(out)
    assert [q["account"] for q in summary["athena_queries"]] == local.accounts
    with Store(local.db, read_only=True) as store:
        roles = {e.role_arn for e in store.ecs_assumed_roles(local.since, local.until)}
        expected = sorted(_usage_key(r) for r in store.usage(local.since, local.until)
                          if r.principal in roles)
    assert usage_keys(db) == expected
    for execution in executions(moto_server):
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(
            f"s3://{bucket}/configured/")


def test_athena_rows_over_events_of_the_same_account_are_flagged(
        local: Local, fresh_account: str, moto_server: str, s3_bucket: tuple[Any, str],
        tmp_path: Path) -> None:
    _, bucket = s3_bucket
    queue_results(moto_server, fresh_account,
                  [athena_result(local.records[a]) for a in local.accounts])
    db = _copy(local.db, tmp_path / "both.duckdb")  # the same sample, already read from files
    accounts = [arg for a in local.accounts for arg in ("--account", a)]
    code, _, err = invoke(*ingest_args(db, bucket, moto_server, *accounts, *local.window_args))
    assert code == 0, err
    flagged = [line for line in err.splitlines() if "counted twice" in line]
    roles_account = next(a for a in local.accounts if local.records[a])
    assert any(f"account {roles_account}" in line for line in flagged), err


def test_a_result_of_another_shape_is_a_named_bad_input(
        local: Local, fresh_account: str, moto_server: str, s3_bucket: tuple[Any, str],
        tmp_path: Path) -> None:
    _, bucket = s3_bucket
    account = next(a for a in local.accounts if local.records[a])
    good = list(local.records[account][0])
    good[COLUMNS.index("parameters")] = '["only-one"]'  # not the 38 parameters usage.sql picks
    queue_results(moto_server, fresh_account, [athena_result([tuple(good)])])
    db = tmp_path / "shape.duckdb"
    code, _, err = invoke(*ingest_args(db, bucket, moto_server, "--account", account,
                                       *local.window_args))
    assert code == 4
    (line,) = [line for line in err.splitlines() if "bad input" in line]
    assert line.startswith(f"rightsizer: bad input: {TABLE} account {account}: its result "
                           "cannot be read: usage.sql returned 1 parameters, expected 38")
    with Store(db, read_only=True) as store:
        assert store.count("athena_usage") == 0


def test_run_with_athena_and_no_account_queries_the_accounts_of_the_iam_data(
        local: Local, fresh_account: str, moto_server: str, s3_bucket: tuple[Any, str],
        tmp_path: Path) -> None:
    """Without --account, a run queries the partitions of the accounts its IAM data holds (with
    --organization, the organization's): every account in the run, none forgotten."""
    _, bucket = s3_bucket
    main_account = "883921282152"  # the sample's account: its IAM file holds only its roles
    assert main_account in local.accounts
    queue_results(moto_server, fresh_account, [athena_result(local.records[main_account])])
    code, _, err = invoke(
        "run", "--logs", TABLE, "--athena-concurrency", "1", "--workgroup", "primary",
        "--output-location", f"s3://{bucket}/results/", "--endpoint-url", moto_server,
        "--region", REGION, "--iam", IAM, "--ecs", ECS, "--trail", TRAIL,
        "--db", str(tmp_path / "run.duckdb"), "--out", str(tmp_path / "out"),
        *local.window_args, "--json")
    assert code == 0, err
    summary = orjson.loads((tmp_path / "out" / "summary.json").read_bytes())
    assert [q["account"] for q in summary["ingest"]["athena_queries"]] == [main_account]
