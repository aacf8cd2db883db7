"""Issue 12, case 14: only AWS's own errors are input or configuration errors. A broad
``except Exception`` around the Athena calls turned a bug (a TypeError of ours, wrapped by
PyAthena) into "the usage query failed" (a bad input, exit 4), and missing credentials into a
bad input too. Now a bug stays a bug (exit 1, with its traceback), missing credentials are a
ConfigError with a hint (exit 2), and AWS's refusals are QueryFailed naming the account.

The AWS paths run against moto's server; the bug is a cursor of our own that fails the way a
programming error does, the one thing no real endpoint can be asked to do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pyathena.error import DatabaseError, OperationalError

from rightsizer.errors import ConfigError
from rightsizer.sources import athena
from rightsizer.sources.athena import AthenaOptions, AthenaTable, QueryFailed

TABLE = AthenaTable("cloudtrail", "org_trail")
UNTIL = datetime(2026, 10, 2, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=1)


class _Cursor:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def execute(self, *_: Any, **__: Any) -> None:
        raise self.error

    def fetchall(self) -> list[Any]:  # pragma: no cover (execute raises)
        return []


class _Connection:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def cursor(self) -> _Cursor:
        return _Cursor(self.error)


def _wrapped(cause: Exception) -> DatabaseError:
    """What PyAthena raises for any exception of the call it made: ``DatabaseError(*e.args)
    from e``."""
    try:
        raise DatabaseError(*cause.args) from cause
    except DatabaseError as exc:
        return exc


def _query(error: Exception) -> None:
    athena.run_usage_query(_Connection(error), TABLE, "111122223333", SINCE, UNTIL,
                           AthenaOptions(region="us-east-1", output_location="s3://b/"))


def test_a_bug_under_pyathena_stays_a_bug() -> None:
    with pytest.raises(DatabaseError) as raised:
        _query(_wrapped(TypeError("unsupported operand type(s)")))
    assert isinstance(raised.value.__cause__, TypeError)


def test_a_bug_outside_pyathena_stays_a_bug() -> None:
    with pytest.raises(AttributeError):
        _query(AttributeError("'NoneType' object has no attribute 'query_id'"))


def test_athenas_own_refusal_is_a_failed_query_of_that_account() -> None:
    with pytest.raises(QueryFailed) as raised:
        _query(OperationalError("SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved"))
    assert raised.value.source == "athena://cloudtrail.org_trail account 111122223333"
    assert "SYNTAX_ERROR" in raised.value.reason


def test_missing_credentials_are_a_configuration_error_with_a_hint(
        moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # Nor the container or instance metadata endpoints: none answers here, fast.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    options = AthenaOptions(region="us-east-1", output_location="s3://results/",
                            endpoint_url=moto_server)
    with athena.athena_connection(options) as connection, \
            pytest.raises(ConfigError) as raised:
        athena.run_usage_query(connection, TABLE, "111122223333", SINCE, UNTIL, options)
    assert "Unable to locate credentials" in str(raised.value)
    assert "AWS_PROFILE" in str(raised.value)


def test_a_refused_request_on_a_real_endpoint_is_a_failed_query(moto_server: str) -> None:
    options = AthenaOptions(region="us-east-1", output_location="s3://results/",
                            endpoint_url=moto_server, workgroup="no_such_workgroup")
    with athena.athena_connection(options) as connection, pytest.raises(QueryFailed) as raised:
        athena.run_usage_query(connection, TABLE, "111122223333", SINCE, UNTIL, options)
    assert "InvalidRequestException: WorkGroup does not exist" in raised.value.reason
