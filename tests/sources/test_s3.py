"""rightsizer.sources.s3 against moto's server over real HTTP (fixtures in tests/conftest.py).

Errors are injected by ``faulty_s3_endpoint``, a reverse proxy that answers 500 to any request
whose target holds ``/poison/``; its clients use ``S3Options(max_attempts=1)``: botocore counts
that as one retry (two requests), so it gives up after one short backoff instead of five.
"""

from __future__ import annotations

import os
import pickle
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import pytest
from helpers import seed_many

from rightsizer.errors import ConfigError, SourceError
from rightsizer.sources.locate import NOT_EVENTS, BadInput, LogObject, Scope, Skipped
from rightsizer.sources.s3 import (
    S3Options,
    fetch_objects,
    make_client,
    parse_s3_uri,
    s3_objects,
)

ORG = "o-abcde12345"
ACCOUNTS = ("111111111111", "222222222222")
REGIONS = ("eu-west-1", "us-east-1")
DAYS = [date(2024, 2, 25) + timedelta(days=i) for i in range(10)]  # 2024-02-25 .. 2024-03-05
TRAIL = f"trail/AWSLogs/{ORG}"
WINDOW = Scope(since=date(2024, 2, 28), until=date(2024, 3, 1))  # read 02-28 .. 03-02 (+1 day)
WINDOW_DAYS = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 2)]


def event_key(account: str, region: str, day: date) -> str:
    return (
        f"{TRAIL}/{account}/CloudTrail/{region}/{day:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{day:%Y%m%d}T0005Z_a1b2c3d4e5f6g7h8.json.gz"
    )


def put_many(client: Any, bucket: str, objects: dict[str, bytes]) -> None:
    """PutObject over HTTP, 16 at a time."""
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda kv: client.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()
            )
        )


def split(items: list[Any]) -> tuple[dict[str, LogObject], dict[str, str], dict[str, str]]:
    """LogObjects by uri, skip reasons by uri, bad-input reasons by uri (each uri once)."""
    objects = {i.uri: i for i in items if isinstance(i, LogObject)}
    skipped = {i.uri: i.reason for i in items if isinstance(i, Skipped)}
    bad = {i.uri: i.reason for i in items if isinstance(i, BadInput)}
    assert len(objects) + len(skipped) + len(bad) == len(items), "a uri came back twice"
    return objects, skipped, bad


class Recorder:
    """Records every ListObjectsV2 request a client sends (botocore's own event hooks)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, str | None]] = []
        client.meta.events.register("before-parameter-build.s3.ListObjectsV2", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((params.get("Prefix", ""), params.get("Delimiter")))


@pytest.fixture(scope="module")
def org_trail(moto_server: str) -> tuple[str, dict[str, bytes]]:
    """A bucket laid out like an organization trail under ``trail/``, plus a non-layout
    ``exports/`` folder. Returns ``(bucket, {key: body})``."""
    client = make_client(S3Options(endpoint_url=moto_server))
    bucket = "org-trail-layout"
    client.create_bucket(Bucket=bucket)
    objects: dict[str, bytes] = {}
    for account in ACCOUNTS:
        for region in REGIONS:
            for day in DAYS:
                objects[event_key(account, region, day)] = f"{account}{region}{day}".encode()
                digest = (
                    f"{TRAIL}/{account}/CloudTrail-Digest/{region}/{day:%Y/%m/%d}/"
                    f"{account}_CloudTrail-Digest_{region}_trail_{day:%Y%m%d}T0105Z.json.gz"
                )
                objects[digest] = b"digest"
    for day in DAYS[3:6]:
        insight = (
            f"{TRAIL}/111111111111/CloudTrail-Insight/us-east-1/{day:%Y/%m/%d}/"
            f"111111111111_CloudTrail-Insight_us-east-1_{day:%Y%m%d}T0205Z.json.gz"
        )
        objects[insight] = b"insight"
    objects.update(
        {
            # Folder markers are not objects to read.
            f"{TRAIL}/111111111111/CloudTrail/": b"",
            f"{TRAIL}/111111111111/CloudTrail/us-east-1/2024/02/28/": b"",
            # AWS Config shares log-archive buckets: never listed.
            f"{TRAIL}/111111111111/Config/us-east-1/2024/2/28/ConfigHistory/x.json.gz": b"c",
            # Outside the layout, next to AWSLogs/: read, as in a local folder.
            "trail/top.json": b"{}",
            "trail/notes/readme.json": b"{}",
            # A folder outside the layout altogether.
            "exports/a/1.json": b"1",
            "exports/a/": b"",
            "exports/b/c/2.json.gz": b"2",
            "exports/CloudTrail-Digest/d.json.gz": b"d",
            "exports/.hidden": b"h",
            "exports/deep/AWSLogs/111111111111/CloudTrail/us-east-1/2024/01/01/old.json.gz": b"o",
            "exports/deep/AWSLogs/111111111111/CloudTrail/us-east-1/2024/03/01/new.json.gz": b"n",
        }
    )
    put_many(client, bucket, objects)
    return bucket, objects


@pytest.fixture
def client(moto_server: str) -> Any:
    return make_client(S3Options(endpoint_url=moto_server))


def uris(bucket: str, keys: list[str]) -> set[str]:
    return {f"s3://{bucket}/{k}" for k in keys}


# --- uris and options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://my.bucket-1/p/q", ("my.bucket-1", "p/q")),
        ("s3://b12/AWSLogs/", ("b12", "AWSLogs/")),
        ("S3://Legacy_Bucket/a//b", ("Legacy_Bucket", "a//b")),
        ("s3://bucket/key with spaces.json", ("bucket", "key with spaces.json")),
    ],
)
def test_parse_s3_uri_good(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "bucket/p",
        "s3:/bucket/p",
        "s3://",
        "s3:///p",
        "https://bucket/p",
        "s3://-bad/p",
        "s3://b/p",
        "s3://bad bucket/p",
        "s3://bucket/p\nq",
        "file:///tmp/x",
    ],
)
def test_parse_s3_uri_bad(uri: str) -> None:
    with pytest.raises(ConfigError):
        parse_s3_uri(uri)


def test_options_pickle_and_client_config(moto_server: str) -> None:
    options = S3Options(endpoint_url=moto_server, max_concurrency=40, max_attempts=3)
    assert pickle.loads(pickle.dumps(options)) == options
    config = make_client(options).meta.config
    # botocore reads a client Config's max_attempts as retries: 3 retries, 4 requests in all.
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert config.max_pool_connections >= 40
    assert make_client(S3Options()).meta.config.retries["total_max_attempts"] == 6
    with pytest.raises(ConfigError):
        S3Options(max_concurrency=0)
    with pytest.raises(ConfigError):
        S3Options(max_attempts=-1)
    with pytest.raises(ConfigError, match="no-such-profile"):
        make_client(S3Options(profile="no-such-profile"))


# --- listing by the layout -----------------------------------------------------------------------


def test_window_lists_only_its_day_prefixes(org_trail: tuple[str, dict], client: Any) -> None:
    bucket, _ = org_trail
    recorder = Recorder(client)
    objects, skipped, bad = split(list(s3_objects(client, f"s3://{bucket}/trail/", WINDOW)))

    expected = [event_key(a, r, d) for a in ACCOUNTS for r in REGIONS for d in WINDOW_DAYS]
    assert set(objects) == uris(bucket, [*expected, "trail/top.json", "trail/notes/readme.json"])
    assert not bad
    assert skipped == {
        f"s3://{bucket}/{TRAIL}/111111111111/CloudTrail-Digest/": NOT_EVENTS["CloudTrail-Digest"],
        f"s3://{bucket}/{TRAIL}/222222222222/CloudTrail-Digest/": NOT_EVENTS["CloudTrail-Digest"],
        f"s3://{bucket}/{TRAIL}/111111111111/CloudTrail-Insight/": NOT_EVENTS["CloudTrail-Insight"],
        f"s3://{bucket}/{TRAIL}/111111111111/Config/": (
            "not CloudTrail logs (only AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/ is read)"
        ),
    }

    # What was listed: the layout folders one level at a time, then only the window's days.
    delimited = {p for p, d in recorder.calls if d == "/"}
    whole = {p for p, d in recorder.calls if d is None}
    assert delimited == {
        "trail/",
        "trail/AWSLogs/",
        f"{TRAIL}/",
        *(f"{TRAIL}/{a}/" for a in ACCOUNTS),
        *(f"{TRAIL}/{a}/CloudTrail/" for a in ACCOUNTS),
    }
    days = {
        f"{TRAIL}/{a}/CloudTrail/{r}/{d:%Y/%m/%d}/"
        for a in ACCOUNTS
        for r in REGIONS
        for d in WINDOW_DAYS
    }
    assert whole == {"trail/AWSLogs/", "trail/notes/", *days}  # the probe, a sibling, the days


def test_without_window_the_walk_reads_everything_but_digests(
    org_trail: tuple[str, dict], client: Any
) -> None:
    bucket, _ = org_trail
    recorder = Recorder(client)
    objects, skipped, _ = split(list(s3_objects(client, f"s3://{bucket}/trail", Scope())))
    expected = [event_key(a, r, d) for a in ACCOUNTS for r in REGIONS for d in DAYS]
    assert set(objects) == uris(bucket, [*expected, "trail/top.json", "trail/notes/readme.json"])
    assert sum(r == NOT_EVENTS["CloudTrail-Digest"] for r in skipped.values()) == 2
    assert not any("Digest" in prefix or "Insight" in prefix for prefix, _ in recorder.calls)


def test_fingerprint_and_size_come_from_the_listing(
    org_trail: tuple[str, dict], client: Any
) -> None:
    bucket, bodies = org_trail
    key = event_key("111111111111", "us-east-1", date(2024, 3, 1))
    prefix = f"s3://{bucket}/{key.rsplit('/', 1)[0]}/"
    (obj,) = [i for i in s3_objects(client, prefix, Scope()) if isinstance(i, LogObject)]
    etag = client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    assert obj == LogObject(f"s3://{bucket}/{key}", len(bodies[key]), f"etag:{etag}")


def test_account_and_region_filters_prune(org_trail: tuple[str, dict], client: Any) -> None:
    bucket, _ = org_trail
    recorder = Recorder(client)
    scope = Scope(
        since=WINDOW.since,
        until=WINDOW.until,
        accounts=frozenset({"111111111111"}),
        regions=frozenset({"us-east-1"}),
    )
    objects, skipped, _ = split(list(s3_objects(client, f"s3://{bucket}/trail/", scope)))
    expected = [event_key("111111111111", "us-east-1", d) for d in WINDOW_DAYS]
    assert set(objects) == uris(bucket, [*expected, "trail/top.json", "trail/notes/readme.json"])
    assert skipped[f"s3://{bucket}/{TRAIL}/222222222222/"] == "account 222222222222 not selected"
    assert (
        skipped[f"s3://{bucket}/{TRAIL}/111111111111/CloudTrail/eu-west-1/"]
        == "region eu-west-1 not selected"
    )
    assert not any("222222222222" in p or "eu-west-1" in p for p, _ in recorder.calls)

    # Without a window the filters still prune whole folders.
    no_window = Scope(accounts=frozenset({"222222222222"}), regions=frozenset({"eu-west-1"}))
    objects, _, _ = split(list(s3_objects(client, f"s3://{bucket}/{TRAIL}/", no_window)))
    assert set(objects) == uris(bucket, [event_key("222222222222", "eu-west-1", d) for d in DAYS])


@pytest.mark.parametrize(
    ("prefix", "scope", "expected_days"),
    [
        ("111111111111/CloudTrail/us-east-1/", WINDOW, WINDOW_DAYS),
        ("111111111111/CloudTrail/us-east-1", WINDOW, WINDOW_DAYS),
        ("111111111111/CloudTrail/us-east-1/2024/03", WINDOW, WINDOW_DAYS[2:]),
        ("111111111111/CloudTrail/us-east-1/2024/02/29/", WINDOW, [date(2024, 2, 29)]),
        ("111111111111/CloudTrail/us-east-1/2024/02/25/", Scope(), [date(2024, 2, 25)]),
        ("111111111111/CloudTrail/us-east-1/", Scope(), DAYS),
    ],
)
def test_prefix_inside_the_layout(
    org_trail: tuple[str, dict],
    client: Any,
    prefix: str,
    scope: Scope,
    expected_days: list[date],
) -> None:
    bucket, _ = org_trail
    objects, skipped, bad = split(
        list(s3_objects(client, f"s3://{bucket}/{TRAIL}/{prefix}", scope))
    )
    assert set(objects) == uris(
        bucket, [event_key("111111111111", "us-east-1", d) for d in expected_days]
    )
    assert not skipped
    assert not bad


def test_prefix_inside_the_layout_edges(org_trail: tuple[str, dict], client: Any) -> None:
    bucket, _ = org_trail
    base = f"s3://{bucket}/{TRAIL}"

    # An account folder: its CloudTrail files, its digest and insight folders skipped.
    objects, skipped, _ = split(list(s3_objects(client, f"{base}/111111111111/", WINDOW)))
    assert len(objects) == len(REGIONS) * len(WINDOW_DAYS)
    assert skipped[f"{base}/111111111111/CloudTrail-Insight/"] == NOT_EVENTS["CloudTrail-Insight"]

    # The digest folder named as the source: one Skipped, nothing listed.
    recorder = Recorder(client)
    items = list(s3_objects(client, f"{base}/111111111111/CloudTrail-Digest/", Scope()))
    assert items == [
        Skipped(f"{base}/111111111111/CloudTrail-Digest/", NOT_EVENTS["CloudTrail-Digest"])
    ]
    assert recorder.calls == []

    # A day folder outside the window: skipped with the reason, nothing listed.
    items = list(
        s3_objects(client, f"{base}/111111111111/CloudTrail/us-east-1/2024/02/25/", WINDOW)
    )
    assert len(items) == 1
    assert isinstance(items[0], Skipped)
    assert "window" in items[0].reason

    # One object named exactly is read, whatever the scope.
    key = event_key("111111111111", "us-east-1", date(2024, 2, 25))
    (item,) = s3_objects(client, f"s3://{bucket}/{key}", WINDOW)
    assert isinstance(item, LogObject)
    assert item.uri == f"s3://{bucket}/{key}"


def test_prefix_outside_the_layout_lists_every_key(
    org_trail: tuple[str, dict], client: Any
) -> None:
    bucket, bodies = org_trail
    objects, skipped, _ = split(list(s3_objects(client, f"s3://{bucket}/exports/", WINDOW)))
    deep = "exports/deep/AWSLogs/111111111111/CloudTrail/us-east-1/2024"
    assert set(objects) == uris(
        bucket, ["exports/a/1.json", "exports/b/c/2.json.gz", f"{deep}/03/01/new.json.gz"]
    )
    assert skipped == {
        f"s3://{bucket}/exports/CloudTrail-Digest/d.json.gz": NOT_EVENTS["CloudTrail-Digest"],
        f"s3://{bucket}/exports/.hidden": "hidden file",
        f"s3://{bucket}/{deep}/01/01/old.json.gz": "delivered 2024-01-01, before the window",
    }

    # The bucket root holds no AWSLogs/ directly: every key, each judged by skip_reason.
    items = list(s3_objects(client, f"s3://{bucket}", Scope()))
    assert {i.uri for i in items} == uris(bucket, [k for k in bodies if not k.endswith("/")])


def test_more_than_a_thousand_keys_under_one_day(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    day = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01/"
    keys = [
        f"{day}123456789012_CloudTrail_us-east-1_20240301T0000Z_{i:05d}.json.gz"
        for i in range(1100)
    ]
    seed_many(bucket, dict.fromkeys(keys, b"x"))
    one_day = Scope(since=date(2024, 3, 1), until=date(2024, 3, 1))
    for uri, scope in [(f"s3://{bucket}/", one_day), (f"s3://{bucket}/{day}", Scope())]:
        objects, skipped, bad = split(list(s3_objects(client, uri, scope)))
        assert set(objects) == uris(bucket, keys)
        assert not skipped
        assert not bad


def test_etag_fingerprint_follows_content(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    key = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/01/f.json.gz"

    def fingerprint() -> str:
        (obj,) = s3_objects(client, f"s3://{bucket}/AWSLogs/", Scope())
        assert isinstance(obj, LogObject)
        return obj.fingerprint

    client.put_object(Bucket=bucket, Key=key, Body=b"first")
    first = fingerprint()
    assert first.startswith("etag:")
    assert '"' not in first
    client.put_object(Bucket=bucket, Key=key, Body=b"first")
    assert fingerprint() == first
    client.put_object(Bucket=bucket, Key=key, Body=b"second")
    assert fingerprint() != first


# --- listing errors ------------------------------------------------------------------------------


def test_missing_bucket_is_a_source_error(client: Any) -> None:
    for uri, scope in [
        ("s3://no-such-bucket-rightsizer/AWSLogs/", Scope()),
        ("s3://no-such-bucket-rightsizer/", WINDOW),
        ("s3://no-such-bucket-rightsizer/AWSLogs/111111111111/CloudTrail/us-east-1/", WINDOW),
    ]:
        with pytest.raises(SourceError, match="no-such-bucket-rightsizer") as caught:
            list(s3_objects(client, uri, scope))
        assert "NoSuchBucket" in str(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_failure_is_a_source_error(moto_server: str) -> None:  # (for its fake env)
    dead = make_client(S3Options(endpoint_url=f"http://127.0.0.1:{_closed_port()}", max_attempts=0))
    with pytest.raises(SourceError, match="s3://bucket/AWSLogs/"):
        list(s3_objects(dead, "s3://bucket/AWSLogs/", Scope()))
    ((uri, result),) = fetch_objects(dead, ["s3://bucket/k"], 2)
    assert uri == "s3://bucket/k"
    assert isinstance(result, BadInput)
    assert "connect" in result.reason.lower()


def test_listing_error_inside_the_walk_is_a_bad_input(
    s3_bucket: tuple[Any, str], faulty_s3_endpoint: str
) -> None:
    client, bucket = s3_bucket
    base = "AWSLogs/123456789012/CloudTrail"
    good = f"{base}/us-east-1/2024/03/01/good.json.gz"
    # "poison" is a well-formed region name, so its day prefixes contain "/poison/".
    put_many(client, bucket, {good: b"g", f"{base}/poison/2024/03/01/bad.json.gz": b"b"})
    faulty = make_client(S3Options(endpoint_url=faulty_s3_endpoint, max_attempts=1))
    one_day = Scope(since=date(2024, 3, 1), until=date(2024, 3, 1))

    objects, _, bad = split(list(s3_objects(faulty, f"s3://{bucket}/", one_day)))
    assert set(objects) == uris(bucket, [good])
    assert set(bad) == uris(bucket, [f"{base}/poison/2024/03/01/", f"{base}/poison/2024/03/02/"])
    assert all(r.startswith("S3 ListObjectsV2 failed: InternalError") for r in bad.values())

    # When the very first listing fails, the whole source is unusable.
    with pytest.raises(SourceError, match="InternalError"):
        list(s3_objects(faulty, f"s3://{bucket}/{base}/poison/", one_day))


# --- downloads -----------------------------------------------------------------------------------


def test_fetch_returns_exact_bytes_and_bad_inputs(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    bodies = {f"obj/{i:03d}.json.gz": os.urandom(17 * i + 1) for i in range(40)}
    bodies["obj/big.bin"] = os.urandom(3 * 1024 * 1024)
    put_many(client, bucket, bodies)
    wanted = [f"s3://{bucket}/{k}" for k in bodies] + [f"s3://{bucket}/obj/missing.json.gz"]

    results = list(fetch_objects(client, wanted, 4))
    assert sorted(u for u, _ in results) == sorted(wanted)
    got = dict(results)
    for key, body in bodies.items():
        assert got[f"s3://{bucket}/{key}"] == body
    missing = got[f"s3://{bucket}/obj/missing.json.gz"]
    assert missing == BadInput(
        f"s3://{bucket}/obj/missing.json.gz",
        "S3 GetObject failed: NoSuchKey: The specified key does not exist.",
    )


def test_fetch_through_faulty_endpoint(s3_bucket: tuple[Any, str], faulty_s3_endpoint: str) -> None:
    client, bucket = s3_bucket
    bodies = {"ok/a.json": b"a" * 1000, "x/poison/b.json": b"b", "ok/c.json": b"c"}
    put_many(client, bucket, bodies)
    faulty = make_client(S3Options(endpoint_url=faulty_s3_endpoint, max_attempts=1))
    got = dict(fetch_objects(faulty, [f"s3://{bucket}/{k}" for k in bodies], 4))
    assert got[f"s3://{bucket}/ok/a.json"] == bodies["ok/a.json"]
    assert got[f"s3://{bucket}/ok/c.json"] == bodies["ok/c.json"]
    poisoned = got[f"s3://{bucket}/x/poison/b.json"]
    assert isinstance(poisoned, BadInput)
    assert poisoned.reason.startswith("S3 GetObject failed: InternalError: ")


def test_fetch_keeps_a_bounded_number_ahead(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    put_many(client, bucket, {f"k/{i}": b"x" for i in range(30)})
    taken = 0

    def requested() -> Iterator[str]:
        nonlocal taken
        for i in range(30):
            taken += 1
            yield f"s3://{bucket}/k/{i}"

    results = fetch_objects(client, requested(), 3)
    next(results)
    assert taken <= 2 * 3 + 1  # submitted ahead of the consumer, plus the end-of-input probe
    rest = list(results)
    assert len(rest) == 29
    assert taken == 30

    early = fetch_objects(client, (f"s3://{bucket}/k/{i}" for i in range(30)), 3)
    next(early)
    early.close()  # cancels what has not started, waits for the rest; must not hang
