"""usage_by_role: the usage rows one role at a time, in the groups role_key makes, each once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from helpers import ACCOUNT, delivery_path, event, write_delivery
from hypothesis import given, settings
from hypothesis import strategies as st

import rightsizer
from rightsizer.analysis.inventory import role_key
from rightsizer.sqlfiles import sql
from rightsizer.store.database import Store

DAY = datetime(2026, 10, 1)
OTHER = "444455556666"


def as_role(record: dict, arn: str) -> dict:
    record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = arn
    return record


def _ingested(tmp_path: Path, records: list[dict]) -> Path:
    """A store holding ``records``, delivered in one file."""
    write_delivery(delivery_path(tmp_path / "logs", DAY, "f"), records)
    db = tmp_path / "s.duckdb"
    rightsizer.ingest([str(tmp_path / "logs")], db, workers=1)
    return db


def test_each_role_comes_once_with_all_its_rows_whatever_its_arn_spelling(
        tmp_path: Path) -> None:
    spellings = [
        f"arn:aws:iam::{ACCOUNT}:role/ecs/app-task",   # with its path
        f"arn:aws:iam::{ACCOUNT}:role/app-task",       # the same role, path dropped
        f"arn:aws:iam::{OTHER}:role/app-task",         # another account's role of that name
        f"arn:aws:iam::{ACCOUNT}:role/a/b/zeta",
        f"arn:aws:iam::{ACCOUNT}:role/Alpha",
    ]
    # Interleaved in time and files, so that only the query's order can bring a role together.
    records = [as_role(event(n, when=DAY + timedelta(minutes=n)), spellings[n % len(spellings)])
               for n in range(60)]
    for i in range(0, 60, 7):
        write_delivery(delivery_path(tmp_path / "logs", DAY, f"f{i}"), records[i:i + 7])
    db = tmp_path / "s.duckdb"
    rightsizer.ingest([str(tmp_path / "logs")], db, workers=1)
    with Store(db, read_only=True) as store:
        groups = list(store.usage_by_role())
        every = store.usage()
    keys = [key for key, _ in groups]
    assert len(keys) == len(set(keys)) == 4
    for key, rows in groups:
        assert {role_key(r.principal) for r in rows} == {key}
    assert Counter(r for _, rows in groups for r in rows) == Counter(every)
    ecs_role = dict(groups)[(ACCOUNT, "app-task")]
    assert {r.principal for r in ecs_role} == set(spellings[:2])
    assert sum(r.calls for r in ecs_role) == 24


def test_a_role_not_kept_comes_in_pieces_and_a_kept_one_whole(tmp_path: Path) -> None:
    records = [event(n, when=DAY + timedelta(minutes=n), role="app-task" if n % 3 else "other")
               for n in range(90)]
    db = _ingested(tmp_path, records)
    with Store(db, read_only=True) as store:
        groups = list(store.usage_by_role(keep={(ACCOUNT, "app-task")}, piece_rows=7))
        every = store.usage()
    sizes = [(key[1], len(rows)) for key, rows in groups]
    assert sizes == [("app-task", 60), ("other", 7), ("other", 7), ("other", 7), ("other", 7),
                     ("other", 2)]
    assert Counter(r for _, rows in groups for r in rows) == Counter(every)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("arn:aws:iam::123/role-x\n/é:")), max_size=40))
def test_the_query_orders_by_the_key_role_key_reads(principal: str) -> None:
    """The SQL that orders the rows reads the same (account, name) as role_key, for any text."""
    con = duckdb.connect()
    con.execute(sql("duckdb/analysis/role_key"))
    row = con.execute("SELECT role_account(?), role_name(?), role_key_text(?)",
                      [principal] * 3).fetchone()
    assert row is not None
    assert row[:2] == role_key(principal)
    assert row[2] == "/".join(role_key(principal))


def test_calls_with_one_resource_key_make_one_row_whatever_else_their_records_hold(
        tmp_path: Path) -> None:
    """The query groups the stored records before it reads their resource keys: records that
    differ only in what the key leaves out (a DynamoDB item, the order of resources[], the
    error code within one class) still fold into one row, with every call counted."""
    item = {"tableName": "orders", "key": {"id": {"S": "1"}}}
    records = []
    for n, (params, resources, error) in enumerate([
            (item, ["arn:b", "arn:a"], None),
            (item, ["arn:b", "arn:a"], None),
            ({**item, "key": {"id": {"S": "2"}}}, ["arn:a", "arn:b", "arn:a"], None),
            ({"tableName": "orders", "consistentRead": True}, ["arn:a", "arn:b"], None),
            (item, ["arn:a", "arn:b"], "AccessDenied"),
            (item, [], "AccessDeniedException"),
    ]):
        record = event(n, when=DAY + timedelta(hours=n), eventSource="dynamodb.amazonaws.com",
                       eventName="GetItem", requestParameters=params,
                       resources=[{"ARN": a, "type": "AWS::DynamoDB::Table"} for a in resources])
        if error:
            record["errorCode"] = error
        records.append(record)
    db = _ingested(tmp_path, records)
    with Store(db, read_only=True) as store:
        rows = sorted(store.usage(), key=lambda r: (r.error_class, r.resource_arns))
    assert [(r.request_key, r.resource_arns, r.error_class, r.calls, r.error_code,
             r.first_seen.hour, r.last_seen.hour) for r in rows] == [
        ('{"tableName":"orders"}', (), "denied", 1, "AccessDeniedException", 5, 5),
        ('{"tableName":"orders"}', ("arn:a", "arn:b"), "denied", 1, "AccessDenied", 4, 4),
        ('{"tableName":"orders"}', ("arn:a", "arn:b"), "ok", 4, None, 0, 3),
    ]


def test_calls_counted_in_sessions_are_the_calls_iam_authorized(tmp_path: Path) -> None:
    """call_sessions counts the task sessions of calls past authorization: the refused ones
    (every error code usage.sql classes as denied) are not among them, the others are."""
    codes = [None, "NoSuchKey", "AccessDenied", "Client.UnauthorizedOperation",
             "AuthorizationError", "ForbiddenException", "Forbidden",
             "AuthorizationErrorException", "ThrottlingException"]
    records = []
    for n, code in enumerate(codes):
        record = event(n, eventName=f"Call{n}")
        if code:
            record["errorCode"] = code
        records.append(record)
    db = _ingested(tmp_path, records)
    with Store(db, read_only=True) as store:
        sessions = store.call_sessions()
        usage = store.usage()
    authorized = {(r.principal, r.event_source, r.event_name) for r in usage
                  if r.error_class != "denied"}
    assert set(sessions) == authorized
    assert {name for _, _, name in authorized} == {"Call0", "Call1", "Call8"}


def test_with_others_refused_a_role_not_kept_comes_with_its_refused_calls_alone(
        tmp_path: Path) -> None:
    records = []
    for n in range(40):
        record = event(n, when=DAY + timedelta(minutes=n), role="app-task" if n % 2 else "lambda")
        if n % 5 == 0:
            record["errorCode"] = "AccessDenied" if n % 10 == 0 else "NoSuchKey"
        records.append(record)
    db = _ingested(tmp_path, records)
    kept = (ACCOUNT, "app-task")
    with Store(db, read_only=True) as store:
        groups = list(store.usage_by_role(keep={kept}, others="refused"))
        every = store.usage()
    assert [key for key, _ in groups] == [kept, (ACCOUNT, "lambda")]
    got = dict(groups)
    assert Counter(got[kept]) == Counter(r for r in every if r.principal.endswith("/app-task"))
    assert len(got[kept]) == 20
    assert Counter(got[(ACCOUNT, "lambda")]) == Counter(
        r for r in every if r.principal.endswith("/lambda") and r.error_class == "denied")
    assert len(got[(ACCOUNT, "lambda")]) == 4


def test_with_others_refused_the_query_keeps_the_same_rows_as_a_filter_of_every_row(
        tmp_path: Path) -> None:
    """usage.sql leaves the other roles' calls out before it groups them: the rows are those of
    every role's, filtered after, for local and Athena rows alike, whatever a role's ARN
    spelling, and a role of the same name in another account is another role."""
    kept_arns = [f"arn:aws:iam::{ACCOUNT}:role/ecs/app-task",
                 f"arn:aws:iam::{ACCOUNT}:role/app-task"]
    others = [f"arn:aws:iam::{OTHER}:role/app-task", f"arn:aws:iam::{ACCOUNT}:role/lambda"]
    errors = [None, "AccessDenied", "NoSuchKey", "Client.UnauthorizedOperation"]
    records = []
    for n in range(48):
        record = as_role(event(n, when=DAY + timedelta(minutes=n)),
                         (kept_arns + others)[n % 4])
        if errors[(n // 4) % 4]:
            record["errorCode"] = errors[(n // 4) % 4]
        records.append(record)
    db = _ingested(tmp_path, records)
    athena = [(arn, error_class, f"FromAthena{n}")
              for n, (arn, error_class) in enumerate(
                  [(a, c) for a in kept_arns + others for c in ("ok", "denied", "error")])]
    con = duckdb.connect(str(db))
    con.executemany(
        "INSERT INTO athena_usage VALUES ('athena://db.t', 'call', ?, 's3.amazonaws.com', ?, "
        "'eu-west-1', ?, ?, '{}', [], DATE '2026-10-01', ?, '', 3, 1, "
        "TIMESTAMP '2026-10-01 01:00', TIMESTAMP '2026-10-01 02:00', NULL, 'q')",
        [(arn, name, ACCOUNT, ACCOUNT, error_class) for arn, error_class, name in athena])
    con.close()
    kept = (ACCOUNT, "app-task")
    with Store(db, read_only=True) as store:
        got = [r for _key, rows in store.usage_by_role(keep={kept}, others="refused")
               for r in rows]
        every = store.usage()
    wanted = [r for r in every if role_key(r.principal) == kept or r.error_class == "denied"]
    assert Counter(got) == Counter(wanted)
    # Each kind of row is there to be kept or left out.
    assert {(role_key(r.principal), r.error_class, r.event_name.startswith("FromAthena"))
            for r in every} == {(key, error_class, athena_row)
                                for key in [kept, (OTHER, "app-task"), (ACCOUNT, "lambda")]
                                for error_class in ("ok", "denied", "error")
                                for athena_row in (True, False)}
    assert {r.principal for r in got if r.error_class != "denied"} == set(kept_arns)


def test_the_rows_times_are_the_stored_times_in_utc_to_the_microsecond(tmp_path: Path) -> None:
    db = _ingested(tmp_path, [event(1, when=datetime(2026, 10, 1, 23, 59, 58))])
    con = duckdb.connect(str(db))
    con.execute(
        "INSERT INTO athena_usage VALUES ('athena://db.t', 'call', ?, 's3.amazonaws.com', "
        "'ListBucket', 'eu-west-1', ?, ?, '{}', [], DATE '2026-12-31', 'ok', '', 3, 1, "
        "TIMESTAMP '2026-12-31 00:00:00.000001', TIMESTAMP '2026-12-31 23:59:59.999999', NULL, "
        "'q')", [f"arn:aws:iam::{ACCOUNT}:role/ecs/app-task", ACCOUNT, ACCOUNT])
    con.close()
    with Store(db, read_only=True) as store:
        rows = {r.event_name: r for _key, group in store.usage_by_role() for r in group}
    times = {name: (r.first_seen, r.last_seen) for name, r in rows.items()}
    assert times == {
        "GetObject": (datetime(2026, 10, 1, 23, 59, 58, tzinfo=UTC),) * 2,
        "ListBucket": (datetime(2026, 12, 31, 0, 0, 0, 1, tzinfo=UTC),
                       datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))}
    assert all(t.tzinfo is UTC for pair in times.values() for t in pair)
