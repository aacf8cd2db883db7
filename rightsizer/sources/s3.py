"""CloudTrail delivery files in S3: list them by the delivery layout, and download them in parallel.

This is the only module that talks to S3. It turns ``s3://bucket/prefix`` into the log objects to
read (``LogObject``), the ones deliberately not read (``Skipped``) and the listings that failed
(``BadInput``), then fetches object bodies with a bounded number of GETs in flight.

Listing by the layout. A trail bucket holds years of files, so when the prefix
holds ``AWSLogs/`` (or points inside it) the layout is walked one level at a time with
``Delimiter="/"`` listings, whose ``CommonPrefixes`` are the sub-folders:
``AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/``. Accounts and regions outside the scope are pruned
(one ``Skipped`` per folder), ``CloudTrail-Digest/`` and ``CloudTrail-Insight/`` are never listed
(one ``Skipped`` per folder, reason from ``NOT_EVENTS``), other folders under an account
(``Config/`` and the like, in a shared log-archive bucket) are skipped too. With a window only
the day prefixes ``REGION/YYYY/MM/DD/`` of ``Scope.delivery_days()`` are listed; without one the
region folder is listed whole. A prefix that is not in the layout is listed whole, and
``skip_reason`` decides per key, as ``local_objects`` does for a local folder; so are the
siblings of ``AWSLogs/``.

Errors. The first request of ``s3_objects`` decides whether the source can be used at all: if it
fails (no such bucket, access denied, no connection) ``SourceError`` is raised, naming the s3 uri
and the AWS error code and message. A listing that fails after that yields ``BadInput(prefix_uri)``
and the walk goes on. ``fetch_objects`` never raises for one object: a GET that still fails after
botocore's retries is a ``BadInput``.

Workers. ``S3Options`` is a small frozen dataclass: it pickles, and each worker process builds its
own client with ``make_client`` (boto3 sessions and clients must not cross processes). boto3 and
botocore are imported inside the functions, so importing this module stays cheap.

Documentation relied on:

- list_objects_v2 paginator, ``Prefix``/``Delimiter`` and ``CommonPrefixes`` (a listing returns at
  most 1,000 keys per page, the paginator follows ``ContinuationToken``):
  https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services/s3/paginator/ListObjectsV2.html
- Retries, ``Config(retries={"mode": "standard", "max_attempts": N})``: standard mode retries
  throttling, 5xx (``InternalError``) and connection errors with exponential backoff. In a client
  ``Config``, ``max_attempts`` is the number of retries (botocore turns it into
  ``total_max_attempts = N + 1``; botocore/config.py says so too):
  https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
- Clients are thread-safe once created (sessions and resources are not), so one client is shared by
  the GET threads; ``max_pool_connections`` must cover the threads:
  https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html (multithreading)
- Error handling, ``ClientError.response["Error"]["Code"|"Message"]`` versus the static botocore
  exceptions (``BotoCoreError``: connection, credentials, read errors):
  https://boto3.amazonaws.com/v1/documentation/api/latest/guide/error-handling.html
- Tests run against moto's ``ThreadedMotoServer`` over HTTP (server mode):
  https://docs.getmoto.org/en/latest/docs/server_mode.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources.locate import (
    NOT_EVENTS,
    BadInput,
    Layout,
    LogObject,
    Scope,
    Skipped,
    skip_reason,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = ["S3Options", "fetch_objects", "make_client", "parse_s3_uri", "s3_objects"]

# Bucket names: 3-63 lowercase letters, digits, dots and hyphens today; legacy us-east-1 buckets
# may have capitals and underscores, up to 255 characters.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")
_ORG = re.compile(r"o-[a-z0-9]{10,32}")
_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z0-9-]+")
_YEAR = re.compile(r"\d{4}")
_TWO_DIGITS = re.compile(r"\d{2}")

_NOT_AN_ACCOUNT = "not an account folder of the CloudTrail delivery layout"
_NOT_CLOUDTRAIL = "not CloudTrail logs (only AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/ is read)"
_NOT_A_REGION = "not a region folder of the CloudTrail delivery layout"

LogItem = LogObject | Skipped | BadInput
_DONE = "\x00done"  # end of the uris in fetch_objects (no S3 key holds NUL)


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach S3. Passed to worker processes, which each build their own client.

    ``max_attempts`` goes to botocore as ``Config(retries={"max_attempts": ...})``, which botocore
    reads as the number of *retries* after the first request (the default 5 makes at most 6
    requests; 0 disables retries). Tests lower it to keep injected 500 errors fast."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None  # S3-compatible stores and moto
    max_concurrency: int = 16  # parallel GETs
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ConfigError(f"S3 max_concurrency must be at least 1, not {self.max_concurrency}")
        if self.max_attempts < 0:
            raise ConfigError(f"S3 max_attempts must not be negative, not {self.max_attempts}")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/p/q"`` -> ``("bucket", "p/q")``; the key prefix may be empty."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() != "s3":
        raise ConfigError(f"{uri!r} is not an S3 uri (expected s3://bucket/prefix)")
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"{uri!r}: {bucket!r} is not a valid S3 bucket name")
    if any(ch in prefix for ch in "\r\n\x00"):
        raise ConfigError(f"{uri!r}: the key prefix holds a control character")
    return bucket, prefix


def make_client(options: S3Options) -> BaseClient:
    """An S3 client with standard retries and a connection pool that fits ``max_concurrency``."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=options.profile, region_name=options.region)
    except ProfileNotFound as exc:
        raise ConfigError(f"AWS profile {options.profile!r} not found") from exc
    config = Config(
        retries={"mode": "standard", "max_attempts": options.max_attempts},
        max_pool_connections=max(10, options.max_concurrency),
    )
    return session.client("s3", endpoint_url=options.endpoint_url, config=config)


def s3_objects(client: BaseClient, uri: str, scope: Scope) -> Iterator[LogItem]:
    """Every object to read under ``uri``, and the ones skipped, with the reason for each skip.

    A generator: ``SourceError`` (bucket missing, access denied, no connection) comes from the
    first ``next()``. A uri naming one object exactly yields that object, whatever the scope."""
    bucket, key_prefix = parse_s3_uri(uri)
    walk = _Walk(client, bucket, scope)
    folder = key_prefix
    if key_prefix and not key_prefix.endswith("/"):
        first = walk.first(key_prefix)
        if first is not None and first["Key"] == key_prefix:
            yield walk.log_object(first)
            return
        folder = key_prefix + "/"
    inside = walk.inside(folder)
    if inside is not None:
        yield from inside
    elif walk.first(folder + "AWSLogs/") is not None:
        yield from walk.above(folder)
    else:
        yield from walk.flat(folder)


def fetch_objects(
    client: BaseClient, uris: Iterable[str], max_concurrency: int
) -> Iterator[tuple[str, bytes | BadInput]]:
    """Download objects with up to ``max_concurrency`` GETs at once, in completion order.

    At most ``2 * max_concurrency`` downloads are submitted or held ahead of what the consumer has
    taken, so memory stays bounded whatever the number of uris. A failed GET (after botocore's
    retries) gives ``(uri, BadInput(uri, reason))``; nothing is raised for a single object. Closing
    the generator early cancels the downloads not yet started and waits for the running ones."""
    workers = max(1, max_concurrency)
    ahead = 2 * workers
    todo = iter(uris)
    pending: set[Future[tuple[str, bytes | BadInput]]] = set()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rightsizer-s3-get")
    try:
        while True:
            while len(pending) < ahead:
                uri = next(todo, _DONE)
                if uri is _DONE:
                    break
                pending.add(pool.submit(_get_object, client, uri))
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- listing -------------------------------------------------------------------------------------


class _Walk:
    """One listing of one bucket: the walk over the layout, and how listing errors are reported."""

    def __init__(self, client: BaseClient, bucket: str, scope: Scope) -> None:
        self.client = client
        self.bucket = bucket
        self.scope = scope
        window = scope.delivery_days()
        self.days: list[date] | None = None
        if window is not None:
            start, end = window
            self.days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        self.started = False  # a request has succeeded: from now on errors are BadInputs

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def log_object(self, obj: dict[str, Any]) -> LogObject:
        etag = str(obj.get("ETag", "")).strip('"')
        return LogObject(self.uri(obj["Key"]), int(obj.get("Size", 0)), f"etag:{etag}")

    def file(self, obj: dict[str, Any]) -> LogObject | Skipped | None:
        key: str = obj["Key"]
        if key.endswith("/"):  # a folder marker made by the console or a sync tool
            return None
        reason = skip_reason(key, self.scope)
        return Skipped(self.uri(key), reason) if reason else self.log_object(obj)

    def _source_error(self, prefix: str, exc: Exception) -> SourceError:
        return SourceError(f"{self.uri(prefix)}: cannot list S3 objects: {_describe(exc)}")

    def _failed(self, prefix: str, exc: Exception) -> BadInput:
        """A listing failed: the source is unusable if nothing has succeeded yet, otherwise this
        prefix is a bad input and the walk goes on."""
        if not self.started:
            raise self._source_error(prefix, exc) from exc
        return BadInput(self.uri(prefix), f"S3 ListObjectsV2 failed: {_describe(exc)}")

    def first(self, prefix: str) -> dict[str, Any] | None:
        """The first object whose key starts with ``prefix``, if any (one request). Only used to
        find where the uri points, before the walk: a failure is a ``SourceError``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            raise self._source_error(prefix, exc) from exc
        self.started = True
        contents = response.get("Contents") or []
        return contents[0] if contents else None

    def _list(self, prefix: str, *, delimited: bool) -> Iterator[dict[str, Any] | str | BadInput]:
        """Objects (dicts) under ``prefix`` and, if ``delimited``, its sub-folders (str, ending in
        "/"). A failed page ends the listing with a BadInput for the prefix."""
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, str] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimited:
            kwargs["Delimiter"] = "/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                self.started = True
                yield from page.get("Contents") or ()
                for common in page.get("CommonPrefixes") or ():
                    yield common["Prefix"]
        except (ClientError, BotoCoreError) as exc:
            yield self._failed(prefix, exc)

    def flat(self, prefix: str) -> Iterator[LogItem]:
        """Every key under ``prefix``, each judged by ``skip_reason``."""
        for entry in self._list(prefix, delimited=False):
            if isinstance(entry, BadInput):
                yield entry
            elif isinstance(entry, dict):
                item = self.file(entry)
                if item is not None:
                    yield item

    def _level(
        self, folder: str, visit: Callable[[str, str], Iterator[LogItem]]
    ) -> Iterator[LogItem]:
        """One ``Delimiter="/"`` level: files are judged by ``skip_reason``, each sub-folder is
        handed to ``visit(sub_prefix, name)``."""
        for entry in self._list(folder, delimited=True):
            if isinstance(entry, BadInput):
                yield entry
            elif isinstance(entry, str):
                yield from visit(entry, entry[len(folder) : -1])
            else:
                item = self.file(entry)
                if item is not None:
                    yield item

    def above(self, folder: str) -> Iterator[LogItem]:
        """A folder that holds ``AWSLogs/``: walk it; its siblings are outside the layout, so are
        read whole like any folder outside the layout."""

        def visit(sub: str, name: str) -> Iterator[LogItem]:
            return self.awslogs(sub) if name == "AWSLogs" else self.flat(sub)

        return self._level(folder, visit)

    def awslogs(self, folder: str) -> Iterator[LogItem]:
        def visit(sub: str, name: str) -> Iterator[LogItem]:
            if _ORG.fullmatch(name):
                return self.org(sub)
            if _ACCOUNT.fullmatch(name):
                return self.account(sub, name)
            return iter([Skipped(self.uri(sub), _NOT_AN_ACCOUNT)])

        return self._level(folder, visit)

    def org(self, folder: str) -> Iterator[LogItem]:
        def visit(sub: str, name: str) -> Iterator[LogItem]:
            if _ACCOUNT.fullmatch(name):
                return self.account(sub, name)
            return iter([Skipped(self.uri(sub), _NOT_AN_ACCOUNT)])

        return self._level(folder, visit)

    def account(self, folder: str, account: str) -> Iterator[LogItem]:
        reason = self.scope.rejects(Layout(account=account))
        if reason:
            return iter([Skipped(self.uri(folder), reason)])

        def visit(sub: str, name: str) -> Iterator[LogItem]:
            if name == "CloudTrail":
                return self.trail(sub)
            return iter([Skipped(self.uri(sub), NOT_EVENTS.get(name, _NOT_CLOUDTRAIL))])

        return self._level(folder, visit)

    def trail(self, folder: str) -> Iterator[LogItem]:
        def visit(sub: str, name: str) -> Iterator[LogItem]:
            if _REGION.fullmatch(name):
                return self.region(sub, name)
            return iter([Skipped(self.uri(sub), _NOT_A_REGION)])

        return self._level(folder, visit)

    def region(
        self,
        folder: str,
        region: str,
        fixed: tuple[int | None, int | None, int | None] = (None, None, None),
        start: str | None = None,
    ) -> Iterator[LogItem]:
        """A region folder (``start``: the prefix given, when it points below the region).

        With a window, list only its day prefixes (those under ``start``); without, list ``start``
        whole."""
        reason = self.scope.rejects(Layout(region=region))
        if reason:
            yield Skipped(self.uri(start or folder), reason)
            return
        if self.days is None:
            yield from self.flat(start or folder)
            return
        year, month, day = fixed
        days = [
            d
            for d in self.days
            if (year is None or d.year == year)
            and (month is None or d.month == month)
            and (day is None or d.day == day)
        ]
        if not days:
            first, last = self.days[0], self.days[-1]
            yield Skipped(
                self.uri(start or folder),
                f"no delivery day of the window ({first} to {last}, +1 day) under this prefix",
            )
        for d in days:
            yield from self.flat(f"{folder}{d:%Y/%m/%d}/")

    def inside(self, folder: str) -> Iterator[LogItem] | None:
        """The walk for a prefix inside ``AWSLogs/``, or None when the prefix is not in the layout
        (or goes deeper than a day folder): then it is listed whole."""
        parts = folder.split("/")[:-1]
        if "AWSLogs" not in parts:
            return None
        at = parts.index("AWSLogs")
        path = "/".join(parts[: at + 1]) + "/"
        rest = parts[at + 1 :]
        if not rest:
            return self.awslogs(path)
        if _ORG.fullmatch(rest[0]):
            path += rest.pop(0) + "/"
            if not rest:
                return self.org(path)
        if not _ACCOUNT.fullmatch(rest[0]):
            return None
        account = rest.pop(0)
        path += account + "/"
        if not rest:
            return self.account(path, account)
        reason = self.scope.rejects(Layout(account=account))
        kind = rest.pop(0)
        if reason is None and kind in NOT_EVENTS:
            reason = NOT_EVENTS[kind]
        if reason:
            return iter([Skipped(self.uri(folder), reason)])
        if kind != "CloudTrail":
            return None
        path += kind + "/"
        if not rest:
            return self.trail(path)
        region = rest.pop(0)
        if not _REGION.fullmatch(region):
            return None
        path += region + "/"
        fixed = _date_parts(rest)
        if fixed is None:
            return None
        return self.region(path, region, fixed, start=folder)


def _date_parts(parts: list[str]) -> tuple[int | None, int | None, int | None] | None:
    """``["2024", "03"]`` -> ``(2024, 3, None)``; None when the parts are not YYYY/MM/DD."""
    if len(parts) > 3:
        return None
    patterns = (_YEAR, _TWO_DIGITS, _TWO_DIGITS)
    if not all(p.fullmatch(s) for p, s in zip(patterns, parts, strict=False)):
        return None
    numbers = [int(s) for s in parts] + [None] * (3 - len(parts))
    year, month, day = numbers
    try:
        date(year or 2000, month or 1, day or 1)
    except ValueError:
        return None
    return year, month, day


# --- downloads -----------------------------------------------------------------------------------


def _get_object(client: BaseClient, uri: str) -> tuple[str, bytes | BadInput]:
    """One GET. botocore retries the request itself; a body that breaks off while being read is
    fetched once more, since botocore does not retry streaming reads."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        bucket, key = parse_s3_uri(uri)
    except ConfigError as exc:
        return uri, BadInput(uri, str(exc))
    for attempt in (1, 2):
        try:
            response = client.get_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            return uri, BadInput(uri, f"S3 GetObject failed: {_describe(exc)}")
        body = response["Body"]
        try:
            return uri, body.read()
        except (BotoCoreError, OSError) as exc:
            if attempt == 2:
                return uri, BadInput(uri, f"S3 GetObject failed while reading: {_describe(exc)}")
        finally:
            body.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: Exception) -> str:
    """``"Code: Message"`` for an AWS error response, the exception text otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = error.get("Code") or str(
            (response.get("ResponseMetadata") or {}).get("HTTPStatusCode", "error")
        )
        message = error.get("Message")
        return f"{code}: {message}" if message else str(code)
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class FetcherFactory:
    """Makes, in a worker process, the fetcher that reads a chunk's objects from S3: pickled
    to the worker as plain options, the client is built there (clients do not pickle)."""

    options: S3Options

    def __call__(self) -> Callable[[Sequence[str]], Iterator[tuple[str, bytes | BadInput]]]:
        client = make_client(self.options)
        concurrency = self.options.max_concurrency

        def fetch(uris: Sequence[str]) -> Iterator[tuple[str, bytes | BadInput]]:
            return fetch_objects(client, uris, concurrency)

        return fetch
