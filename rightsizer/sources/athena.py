"""CloudTrail at organization scale: the usage aggregation runs in Athena; only its result comes
home.

The table (``queries/athena/create_table_*.sql``) is the official CloudTrail layout
(``org.apache.hive.hcatalog.data.JsonSerDe`` over ``CloudTrailInputFormat``) with partition
projection on ``account``, ``region`` and the delivery date ``timestamp``.
``queries/athena/usage.sql`` aggregates one account's window per query: the account partition of
an organization trail is *injected*, so each query must name one, and Athena reads only the
objects of the partitions it names. Queries of several accounts run a few at a time.

Parameters are bound by Athena (``ExecutionParameters``, qmark), never formatted into the text.
Athena takes each parameter as a literal expression, so a string goes as a quoted SQL literal
(``_literal``); every value is validated first (account ids, ISO instants, role ARNs).

DDL cannot take parameters in Athena. ``table_ddl`` fills the named placeholders of the DDL file
(``{database}``, ``{bucket}``, ...) with values that must match strict patterns (identifiers,
bucket names, region names, account ids, organization ids, dates) that leave no room for quotes.

Cost: Athena bills bytes scanned, rounded up to the megabyte with a 10 MB minimum per query, at
``price_per_tb`` (5 USD per TB in most regions; https://aws.amazon.com/athena/pricing/). Each
query's ``DataScannedInBytes`` (``QueryExecution.Statistics``) is recorded with its cost.

Documentation relied on:
- Partition projection, ``injected`` and ``enum`` types, ``storage.location.template``:
  https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html and
  https://docs.aws.amazon.com/athena/latest/ug/create-cloudtrail-table-partition-projection.html
- Parameterized queries (``ExecutionParameters``, qmark): https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html
- PyAthena: ``connect(s3_staging_dir, work_group, region_name, profile_name, endpoint_url)``,
  ``cursor.execute(query, parameters, paramstyle="qmark")``, ``cursor.query_id``,
  ``cursor.data_scanned_in_bytes`` (https://laughingman7743.github.io/PyAthena/).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import orjson

from rightsizer import aws_names as names
from rightsizer.errors import ConfigError, SourceError
from rightsizer.sqlfiles import sql, sql_literal

__all__ = [
    "MIN_BYTES_BILLED",
    "PARAMETERS",
    "PRICE_PER_TB",
    "AthenaOptions",
    "AthenaTable",
    "AthenaUsageRow",
    "QueryFailed",
    "QueryStats",
    "TableLayout",
    "athena_connection",
    "billed_cost",
    "parse_athena_uri",
    "partition_range",
    "request_key",
    "rows_from_result",
    "run_ddl",
    "run_usage_query",
    "table_ddl",
]

log = logging.getLogger(__name__)

PRICE_PER_TB = 5.0  # USD per TB scanned (Athena SQL queries, most regions)
BYTES_PER_TB = 2**40
MIN_BYTES_BILLED = 10 * 2**20  # every query is billed at least 10 MB
_MB = 2**20

# The request parameters that name a resource, in the order usage.sql (both dialects) picks them:
# the same list as queries/duckdb/analysis/usage.sql; rightsizer/iam/resource_rules.py reads them.
PARAMETERS = (
    "bucketName", "key", "x-amz-copy-source", "copySource", "logGroupName", "logGroupIdentifier",
    "logStreamName", "secretId", "secretIdList", "name", "names", "path",
    "queueUrl", "queueName", "queueOwnerAWSAccountId", "tableName", "indexName", "requestItems",
    "transactItems", "repositoryName", "registryId", "keyId", "sourceKeyId", "destinationKeyId",
    "targetKeyId", "functionName", "qualifier", "workGroup", "streamName", "streamARN",
    "deliveryStreamName", "topicArn", "targetArn", "roleArn", "resourceArn", "cluster",
    "taskDefinition", "stateMachineArn",
)

# The result columns of queries/athena/usage.sql, in order.
COLUMNS = ("kind", "principal", "event_source", "event_name", "region", "account_id",
           "parameters", "resource_arns", "day", "error_class", "invoked_by", "calls",
           "sessions", "first_seen", "last_seen", "error_code")

_IDENTIFIER = re.compile(r"[a-z0-9_]{1,255}")  # Glue database and table names


@dataclass(frozen=True, slots=True)
class AthenaTable:
    database: str
    table: str

    @property
    def uri(self) -> str:
        return f"athena://{self.database}.{self.table}"


def parse_athena_uri(uri: str) -> AthenaTable:
    """``athena://DATABASE.TABLE`` -> the table; anything else is a ConfigError."""
    match = names.ATHENA_TABLE_URI.fullmatch(uri)
    if not match:
        raise ConfigError(f"{uri}: not an Athena source; write athena://DATABASE.TABLE "
                          "(letters, digits and underscores)")
    return AthenaTable(match.group(1).lower(), match.group(2).lower())


@dataclass(frozen=True, slots=True)
class AthenaOptions:
    """Where and how queries run. ``output_location`` None: the workgroup's own."""

    workgroup: str = "primary"
    output_location: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    price_per_tb: float = PRICE_PER_TB
    poll_interval: float = 1.0
    concurrency: int = 4  # queries in flight (Athena's default quota is 20 DML queries)

    def __post_init__(self) -> None:
        if self.output_location is not None and not self.output_location.startswith("s3://"):
            raise ConfigError(f"Athena output location must be s3://..., "
                              f"not {self.output_location!r}")
        if self.price_per_tb <= 0:
            raise ConfigError("Athena price per TB must be > 0")
        if not 1 <= self.concurrency <= 20:
            raise ConfigError("Athena query concurrency must be between 1 and 20")


def partition_range(since: date, until: date) -> tuple[str, str]:
    """The delivery-date partitions (``yyyy/MM/dd``) a window ``[since, until)`` must read.

    A file is delivered on or after the day of its events, never before: the first partition is
    the window's first day, the last is ``until``'s day, one day past the last day of events
    (an event of 23:58 is delivered after midnight). ``until`` is exclusive (midnight)."""
    if until <= since:
        raise ConfigError(f"empty window: {since} to {until}")
    return since.strftime("%Y/%m/%d"), until.strftime("%Y/%m/%d")


def billed_cost(bytes_scanned: int, price_per_tb: float = PRICE_PER_TB) -> float:
    """What Athena bills for a query that scanned ``bytes_scanned``: rounded up to the
    megabyte, at least 10 MB, at ``price_per_tb`` USD per TB (2**40 bytes)."""
    billed = max(MIN_BYTES_BILLED, -(-max(bytes_scanned, 0) // _MB) * _MB)
    return billed * price_per_tb / BYTES_PER_TB


# -- the rows that come home -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AthenaUsageRow:
    """One row of ``usage.sql``: ``kind`` 'call' (a role's calls, as the local usage rows) or
    'ecs_assume' (ECS assuming the role for tasks that day). ``sessions``: distinct task
    sessions that day (distinct counts do not sum across days)."""

    kind: str
    principal: str
    event_source: str
    event_name: str
    region: str
    account: str
    request_key: str
    resource_arns: tuple[str, ...]
    day: date
    error_class: str
    invoked_by: str
    calls: int
    sessions: int
    first_seen: datetime
    last_seen: datetime
    error_code: str | None


@lru_cache(maxsize=65_536)  # the same resources come back day after day
def request_key(parameters: str | None) -> str:
    """The request key of usage.sql from the JSON array of picked parameters: the ones present
    (not null, not empty), as a compact JSON object in ``PARAMETERS`` order."""
    if not parameters:
        return "{}"
    values = orjson.loads(parameters)
    if values == []:  # the 'ecs_assume' rows name no resource
        return "{}"
    if not isinstance(values, list) or len(values) != len(PARAMETERS):
        raise SourceError(f"usage.sql returned {len(values)} parameters, "
                          f"expected {len(PARAMETERS)}")
    picked = {name: value for name, value in zip(PARAMETERS, values, strict=True)
              if value is not None and value != []}
    return orjson.dumps(picked).decode()


def rows_from_result(records: Iterable[Sequence[Any]]) -> list[AthenaUsageRow]:
    """Result rows of ``usage.sql`` (typed by a driver, or all strings as in Athena's CSV) as
    ``AthenaUsageRow``; rows that become the same usage row are merged."""
    merged: dict[tuple[Any, ...], AthenaUsageRow] = {}
    for record in records:
        (kind, principal, source, name, region, account, parameters, arns, day, error_class,
         invoked_by, calls, sessions, first, last, error_code) = record
        row = AthenaUsageRow(
            kind=str(kind), principal=str(principal), event_source=source or "",
            event_name=name or "", region=region or "", account=account or "",
            request_key=request_key(parameters),
            resource_arns=tuple(orjson.loads(arns)) if arns else (),
            day=_date(day), error_class=str(error_class), invoked_by=invoked_by or "",
            calls=int(calls), sessions=int(sessions or 0), first_seen=_instant(first),
            last_seen=_instant(last), error_code=error_code or None)
        key = (row.kind, row.principal, row.event_source, row.event_name, row.region,
               row.account, row.request_key, row.resource_arns, row.day, row.error_class,
               row.invoked_by)
        seen = merged.get(key)
        merged[key] = row if seen is None else replace(
            seen, calls=seen.calls + row.calls, sessions=max(seen.sessions, row.sessions),
            first_seen=min(seen.first_seen, row.first_seen),
            last_seen=max(seen.last_seen, row.last_seen),
            error_code=min((c for c in (seen.error_code, row.error_code) if c), default=None))
    return list(merged.values())


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _instant(value: Any) -> datetime:
    """Naive UTC, as the store keeps event times."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


# -- running queries -------------------------------------------------------------------------


class QueryFailed(SourceError):
    """One account's query failed or returned what cannot be read: a bad input, named by
    ``source`` (the table and the account), for ``reason``."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True, slots=True)
class QueryStats:
    """One Athena query: what it covered, what it scanned and cost."""

    query_id: str
    account: str
    since: datetime
    until: datetime
    first_partition: str
    last_partition: str
    bytes_scanned: int
    cost_usd: float
    rows: int
    seconds: float


def _iso(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def usage_parameters(account: str, since: datetime, until: datetime,
                     principals: Sequence[str] = (),
                     run_accounts: Sequence[str] = ()) -> list[str]:
    """The seven parameters of ``usage.sql`` as plain values (validated), in order.
    ``run_accounts``: every account this run queries (``account`` is always one of them)."""
    for value in (account, *run_accounts):
        if not names.ACCOUNT_ID.fullmatch(value):
            raise ConfigError(f"Athena account must be 12 digits, not {value!r}")
    for arn in principals:
        if not names.ROLE_ARN.fullmatch(arn):
            raise ConfigError(f"not a role ARN: {arn!r}")
    # until is exclusive: midnight belongs to the day it starts, the day of slack
    first, last = partition_range(since.date(), until.date())
    return [account, first, last, _iso(since), _iso(until),
            "\n".join(sorted({account, *run_accounts})), "\n".join(sorted(set(principals)))]


def _connect(options: AthenaOptions) -> Any:
    from pyathena import connect

    kwargs: dict[str, Any] = {
        "work_group": options.workgroup,
        "region_name": options.region,
        "profile_name": options.profile,
        "poll_interval": options.poll_interval,
        # An empty string, not None: do not fall back to AWS_ATHENA_S3_STAGING_DIR.
        "s3_staging_dir": options.output_location or "",
    }
    if options.endpoint_url:
        kwargs["endpoint_url"] = options.endpoint_url
    try:
        return connect(**kwargs)
    except _aws_errors() as exc:
        _raise_if_not_aws(exc)
        raise ConfigError(f"Athena: cannot connect: {_describe(exc)}") from exc


def _aws_errors() -> tuple[type[Exception], ...]:
    """The errors that are AWS's answer (or its SDK's): botocore's, and PyAthena's wrappers
    of them. Anything else raised while talking to Athena is a bug of ours or of a library,
    and stays one (exit 1), never a bad input or a configuration error."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pyathena.error import Error as PyAthenaError

    return (BotoCoreError, ClientError, PyAthenaError)


def _raise_if_not_aws(exc: Exception) -> None:
    """Re-raise ``exc`` when it is no AWS error: PyAthena wraps whatever its call raised in a
    DatabaseError (``raise DatabaseError(*e.args) from e``), a TypeError of ours included.
    Missing credentials, region or profile are a ConfigError (exit 2) with a hint."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )
    from pyathena.error import Error as PyAthenaError

    cause = exc.__cause__ if isinstance(exc, PyAthenaError) else exc
    if isinstance(cause, NoCredentialsError | PartialCredentialsError | ProfileNotFound
                  | NoRegionError):
        raise ConfigError(f"Athena: {cause}: set AWS credentials and a region (--profile, "
                          "AWS_PROFILE, AWS_REGION, or the instance or task role)") from exc
    if cause is None or isinstance(cause, BotoCoreError | ClientError):
        return
    raise exc


def _describe(exc: Exception) -> str:
    """PyAthena wraps botocore's errors (``raise DatabaseError(*e.args) from e``): name the AWS
    error code and message of the cause when there is one."""
    from rightsizer.sources.aws import describe_aws_error

    cause = exc.__cause__
    if cause is not None and hasattr(cause, "response"):
        return describe_aws_error(cause)
    return describe_aws_error(exc)


@contextmanager
def athena_connection(options: AthenaOptions) -> Iterator[Any]:
    """One PyAthena connection for many queries: its boto3 session resolves credentials once
    (on ECS, a request to the container's credentials endpoint). PyAthena connections may be
    shared between threads (``pyathena.threadsafety`` is 2)."""
    connection = _connect(options)
    try:
        yield connection
    finally:
        connection.close()


def run_usage_query(connection: Any, table: AthenaTable, account: str, since: datetime,
                    until: datetime, options: AthenaOptions, principals: Sequence[str] = (),
                    run_accounts: Sequence[str] = ()) -> tuple[list[AthenaUsageRow], QueryStats]:
    """Run ``usage.sql`` for one account over ``[since, until)`` on ``connection``
    (``athena_connection``): the aggregated rows and what the query scanned and cost.
    QueryFailed names the table, the account and Athena's reason."""
    parameters = usage_parameters(account, since, until, principals, run_accounts)
    # The table's name is the one thing not bound: identifiers cannot be parameters, and
    # parse_athena_uri allows only letters, digits and underscores in them.
    query = sql("athena/usage").replace(
        "FROM cloudtrail", f'FROM "{table.database}"."{table.table}"')
    started = time.perf_counter()
    what = f"{table.uri} account {account}"
    cursor = connection.cursor()
    try:
        cursor.execute(query, [sql_literal(p) for p in parameters], paramstyle="qmark")
        records = cursor.fetchall()
    except _aws_errors() as exc:
        _raise_if_not_aws(exc)
        raise QueryFailed(what, f"the usage query failed: {_describe(exc)}") from exc
    try:
        rows = rows_from_result(records)
    except (SourceError, ValueError, TypeError) as exc:
        raise QueryFailed(what, f"its result cannot be read: {exc}") from exc
    scanned = int(cursor.data_scanned_in_bytes or 0)
    stats = QueryStats(
        query_id=str(cursor.query_id), account=account, since=_naive(since),
        until=_naive(until), first_partition=parameters[1], last_partition=parameters[2],
        bytes_scanned=scanned, cost_usd=billed_cost(scanned, options.price_per_tb),
        rows=len(rows), seconds=time.perf_counter() - started)
    log.info("%s: %d rows, %d bytes scanned (%.4f USD), query %s", what, stats.rows,
             stats.bytes_scanned, stats.cost_usd, stats.query_id)
    return rows, stats


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableLayout:
    """Where the trail delivers, for the table DDL: one account's trail, or an organization's."""

    database: str
    table: str
    bucket: str
    regions: tuple[str, ...]
    projection_start: date
    accounts: tuple[str, ...] = ()
    organization_id: str | None = None  # set: an organization trail (injected account)
    prefix: str = ""

    @property
    def organization(self) -> bool:
        return self.organization_id is not None


def table_ddl(layout: TableLayout) -> str:
    """The CREATE EXTERNAL TABLE statement for ``layout``; ConfigError names a bad value."""
    checks = [
        ("database", layout.database, _IDENTIFIER), ("table", layout.table, _IDENTIFIER),
        ("bucket", layout.bucket, names.BUCKET), ("prefix", layout.prefix, names.KEY_PREFIX),
    ]
    checks += [("region", r, names.REGION) for r in layout.regions]
    checks += [("account", a, names.ACCOUNT_ID) for a in layout.accounts]
    if layout.organization_id is not None:
        checks.append(("organization_id", layout.organization_id, names.ORGANIZATION_ID))
    for name, value, pattern in checks:
        if not pattern.fullmatch(value):
            raise ConfigError(f"athena setup: {name} {value!r} is not valid")
    if not layout.regions:
        raise ConfigError("athena setup: give the regions the trail logs (--log-region, or "
                          "athena.regions in the configuration)")
    if layout.organization:
        name = "athena/create_table_organization"
    else:
        if len(layout.accounts) != 1:
            raise ConfigError("athena setup: a single-account trail needs exactly one account "
                              "(athena.accounts); for an organization trail set "
                              "athena.layout = 'organization' and athena.organization_id")
        name = "athena/create_table_account"
    values = {
        "database": layout.database, "table": layout.table, "bucket": layout.bucket,
        "prefix": layout.prefix, "organization_id": layout.organization_id or "",
        "account": layout.accounts[0] if layout.accounts else "",
        "regions": ",".join(layout.regions),
        "projection_start": layout.projection_start.strftime("%Y/%m/%d"),
    }
    # The file's header comments stay in the file: Athena's DDL parser is Hive's. ``${...}`` are
    # the projection's own placeholders, filled by Athena per partition: left as they are.
    lines = sql(name).splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], "\n".join(lines)).strip() + "\n"


_PLACEHOLDER = re.compile(r"(?<!\$)\{(\w+)\}")


def run_ddl(statements: Sequence[str], options: AthenaOptions, what: str) -> list[QueryStats]:
    """Run DDL statements in order (DDL scans nothing and is free)."""
    done = []
    with athena_connection(options) as connection:
        for statement in statements:
            cursor = connection.cursor()
            started = time.perf_counter()
            try:
                cursor.execute(statement)
            except _aws_errors() as exc:
                _raise_if_not_aws(exc)
                raise SourceError(f"{what}: {_describe(exc)}") from exc
            now = datetime.now(UTC).replace(tzinfo=None)
            done.append(QueryStats(
                query_id=str(cursor.query_id), account="", since=now, until=now,
                first_partition="", last_partition="", bytes_scanned=0, cost_usd=0.0, rows=0,
                seconds=time.perf_counter() - started))
    return done
