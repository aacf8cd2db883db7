"""The simulated account: exact counts, delivery layout, determinism and cross-file consistency."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rightsizer.errors import ConfigError
from rightsizer.simulate import SimulationResult, simulate_account

# DOMAIN.md §3: organization trails insert o-XXXXXXXXXX/ before the account.
DELIVERY = re.compile(
    r"AWSLogs/o-[a-z0-9]{10}/(?P<acct>\d{12})/CloudTrail/(?P<region>[a-z]{2}-[a-z]+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P=acct)_CloudTrail_(?P=region)_"
    r"(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz"
)
DIGEST = re.compile(
    r"AWSLogs/o-[a-z0-9]{10}/(?P<acct>\d{12})/CloudTrail-Digest/(?P<region>[a-z]{2}-[a-z]+-\d)/"
    r"\d{4}/\d{2}/\d{2}/(?P=acct)_CloudTrail-Digest_(?P=region)_[\w-]+_(?P=region)_"
    r"\d{8}T\d{6}Z\.json\.gz"
)
EVENTS = 2000
DAYS = 3


@dataclass(frozen=True)
class Delivery:
    rel: str
    match: re.Match[str]
    records: list[dict[str, Any]]
    raw: list[bytes]  # each record re-serialized, to compare duplicates byte for byte


def _deliveries(result: SimulationResult) -> Iterator[Delivery]:
    root = result.cloudtrail_dir
    for path in sorted(root.rglob("*.json.gz")):
        rel = path.relative_to(root).as_posix()
        if "/CloudTrail-Digest/" in rel:
            continue
        match = DELIVERY.fullmatch(rel)
        assert match, rel
        records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
        raw = [json.dumps(r, sort_keys=True).encode() for r in records]
        yield Delivery(rel, match, records, raw)


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate_account(tmp_path_factory.mktemp("sim") / "out", events=EVENTS, days=DAYS)


@pytest.fixture(scope="module")
def deliveries(sim: SimulationResult) -> list[Delivery]:
    return list(_deliveries(sim))


@pytest.fixture(scope="module")
def records(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    return [r for d in deliveries for r in d.records]


@pytest.fixture(scope="module")
def iam(sim: SimulationResult) -> dict[str, Any]:
    return json.loads(sim.iam_path.read_text())


@pytest.fixture(scope="module")
def task_defs(sim: SimulationResult) -> list[dict[str, Any]]:
    return json.loads(sim.ecs_path.read_text())["taskDefinitions"]


def _iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --- counts -----------------------------------------------------------------------------------


def test_distinct_events_are_exact(sim: SimulationResult, records: list[dict[str, Any]]) -> None:
    ids = {r["eventID"] for r in records}
    # The traffic asked for, and the six role changes every account holds on top of it.
    changes = sum(r["eventSource"] == "iam.amazonaws.com" and not r["readOnly"] for r in records)
    assert changes == 6
    assert len(ids) == EVENTS + changes == sim.distinct_events


def test_duplicates_are_identical_records_in_other_files(
    sim: SimulationResult, deliveries: list[Delivery]
) -> None:
    seen: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for d in deliveries:
        for rec, raw in zip(d.records, d.raw, strict=True):
            seen[rec["eventID"]].append((d.rel, raw))
    extra = sum(len(v) - 1 for v in seen.values())
    assert extra == sim.duplicate_deliveries
    assert 0 < sim.duplicate_deliveries < EVENTS * 0.02  # about 0.5%
    for copies in seen.values():
        if len(copies) > 1:
            assert len({raw for _, raw in copies}) == 1  # the identical record
            assert len({rel for rel, _ in copies}) == len(copies)  # each in another file


def test_file_counts(sim: SimulationResult, deliveries: list[Delivery]) -> None:
    assert len(deliveries) == sim.delivery_files
    digests = list((sim.cloudtrail_dir / "AWSLogs").glob("*/*/CloudTrail-Digest/**/*.json.gz"))
    assert len(digests) == sim.digest_files > 0


# --- delivery layout ------------------------------------------------------------------------


def test_delivery_time_follows_newest_event(deliveries: list[Delivery]) -> None:
    for d in deliveries:
        stamp = datetime.strptime(d.match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        folder = (d.match["y"], d.match["m"], d.match["d"])
        assert folder == (f"{stamp:%Y}", f"{stamp:%m}", f"{stamp:%d}")
        newest = max(_iso(r["eventTime"]) for r in d.records)
        # Delivered 5-15 minutes after the newest record (the stamp is cut to the minute).
        assert 4 * 60 < (stamp - newest).total_seconds() <= 15 * 60
        for r in d.records:
            assert folder >= tuple(r["eventTime"][:10].split("-"))
            assert r["awsRegion"] == d.match["region"]
            assert r["recipientAccountId"] == d.match["acct"]


def test_events_inside_window(sim: SimulationResult, records: list[dict[str, Any]]) -> None:
    times = [_iso(r["eventTime"]) for r in records]
    assert sim.start <= min(times) and max(times) < sim.end
    assert (sim.end - sim.start).days == DAYS
    # Spread over the whole window, busiest in (US) business hours.
    per_day = Counter(t.date() for t in times)
    assert len(per_day) == DAYS
    hours = Counter(t.hour for t in times)
    assert hours[17] > hours[5]


def test_one_organization_two_accounts_three_regions(deliveries: list[Delivery]) -> None:
    volume = Counter((d.match["acct"], d.match["region"]) for d in deliveries for _ in d.records)
    accounts = Counter()
    for (acct, _), n in volume.items():
        accounts[acct] += n
    (main, main_n), (_, member_n) = accounts.most_common()
    assert member_n < main_n * 0.05
    regions = Counter({region: n for (acct, region), n in volume.items() if acct == main})
    assert set(regions) == {"us-east-1", "eu-west-1", "ap-southeast-2"}
    assert regions.most_common(1)[0][0] == "us-east-1"
    assert len({d.rel.split("/")[1] for d in deliveries}) == 1  # one organization


def test_digest_files(sim: SimulationResult) -> None:
    root = sim.cloudtrail_dir
    paths = sorted(p for p in root.rglob("*.json.gz") if "/CloudTrail-Digest/" in p.as_posix())
    listed = 0
    for path in paths:
        rel = path.relative_to(root).as_posix()
        assert DIGEST.fullmatch(rel), rel
        digest = json.loads(gzip.decompress(path.read_bytes()))
        assert digest["digestS3Object"] == rel
        assert digest["awsAccountId"] == rel.split("/")[2]
        for log in digest["logFiles"]:
            body = gzip.decompress((root / log["s3Object"]).read_bytes())
            assert hashlib.sha256(body).hexdigest() == log["hashValue"]
            listed += 1
    assert listed == sim.delivery_files


def test_events_per_file_is_the_mean(tmp_path: Path) -> None:
    result = simulate_account(tmp_path / "o", events=2000, days=2, events_per_file=40)
    total = sum(len(d.records) for d in _deliveries(result))
    # The traffic plus the role changes every account holds (simulate.changes).
    assert result.distinct_events == 2000 + 6
    assert total == result.distinct_events + result.duplicate_deliveries
    assert 40 * 0.7 <= total / result.delivery_files <= 40 * 1.3


# --- determinism ----------------------------------------------------------------------------


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"events": 300, "days": 1, "seed": 7}
    a = simulate_account(tmp_path / "a", **kwargs)
    b = simulate_account(tmp_path / "b", **kwargs)
    c = simulate_account(tmp_path / "c", **{**kwargs, "seed": 8})
    assert _tree_hash(a.root) == _tree_hash(b.root)
    assert a.duplicate_deliveries == b.duplicate_deliveries
    assert _tree_hash(a.root) != _tree_hash(c.root)


# --- record content -------------------------------------------------------------------------


def test_records_look_like_cloudtrail(records: list[dict[str, Any]]) -> None:
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    for r in records:
        assert r["eventVersion"] in ("1.08", "1.09")
        assert uuid.fullmatch(r["eventID"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["eventTime"])
        assert r["eventCategory"] in ("Management", "Data")
        assert r["managementEvent"] is (r["eventCategory"] == "Management")
        creds = (r.get("responseElements") or {}).get("credentials")
        if creds:
            assert "secretAccessKey" not in creds  # CloudTrail never logs it
            assert creds["accessKeyId"].startswith("ASIA")
    kinds = Counter(r["userIdentity"].get("type") for r in records)
    assert {"AssumedRole", "AWSService", "IAMUser", "Root", "AWSAccount"} <= set(kinds)
    assert any(r["eventType"] == "AwsConsoleSignIn" for r in records)
    assert any(r.get("errorCode") == "AccessDenied" for r in records)
    assert any(r.get("errorCode") == "Client.UnauthorizedOperation" for r in records)


def test_ecs_assumes_both_roles_and_keys_reappear(records: list[dict[str, Any]]) -> None:
    issued: dict[str, str] = {}  # access key -> role ARN
    sessions: dict[str, set[str]] = defaultdict(set)  # task ID -> roles
    for r in records:
        if r["eventName"] == "AssumeRole" and r["userIdentity"].get("invokedBy") == (
            "ecs-tasks.amazonaws.com"
        ):
            assert r["sourceIPAddress"] == r["userAgent"] == "ecs-tasks.amazonaws.com"
            session = r["requestParameters"]["roleSessionName"]
            assert re.fullmatch(r"[0-9a-f]{32}", session)
            sessions[session].add(r["requestParameters"]["roleArn"])
            issued[r["responseElements"]["credentials"]["accessKeyId"]] = r["requestParameters"][
                "roleArn"
            ]
    launches = [s for s, roles in sessions.items() if len(roles) == 2]
    assert launches  # execution role and task role, same session name
    reused = 0
    for r in records:
        ident = r["userIdentity"]
        key = ident.get("accessKeyId")
        if ident.get("type") == "AssumedRole" and key in issued:
            assert ident["sessionContext"]["sessionIssuer"]["arn"] == issued[key]
            reused += 1
    assert reused > len(issued)


def test_forward_access_and_path_roles(records: list[dict[str, Any]]) -> None:
    decrypts = [
        r for r in records
        if r["eventName"] == "Decrypt"
        and r["userIdentity"].get("invokedBy") == "secretsmanager.amazonaws.com"
    ]  # fmt: skip
    assert decrypts and all(r["userIdentity"]["type"] == "AssumedRole" for r in decrypts)
    # The sts ARN drops the role's path; sessionIssuer.arn keeps it.
    with_path = [
        r["userIdentity"] for r in records
        if "/ecs/" in r["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {})
        .get("arn", "")
    ]  # fmt: skip
    assert with_path
    assert all("/ecs/" not in ident["arn"] for ident in with_path)


# --- consistency with the IAM and ECS files -------------------------------------------------


def test_every_session_issuer_is_an_iam_role(
    records: list[dict[str, Any]], iam: dict[str, Any]
) -> None:
    arns = {role["Arn"]: role for role in iam["RoleDetailList"]}
    issuers = Counter(
        r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        for r in records
        if r["userIdentity"].get("type") == "AssumedRole"
    )
    assert issuers
    for arn in issuers:
        assert arn in arns, arn
        assert arns[arn]["RoleLastUsed"]["LastUsedDate"]


def test_task_definition_roles_exist(iam: dict[str, Any], task_defs: list[dict[str, Any]]) -> None:
    arns = {role["Arn"] for role in iam["RoleDetailList"]}
    names = {role["RoleName"] for role in iam["RoleDetailList"]}
    bare = 0
    for td in task_defs:
        for ref in (td["taskRoleArn"], td["executionRoleArn"]):
            if ref.startswith("arn:"):
                assert ref in arns, ref
            else:
                assert ref in names, ref
                bare += 1
    assert bare == 1


def test_traffic_matches_task_definitions(
    records: list[dict[str, Any]], task_defs: list[dict[str, Any]]
) -> None:
    groups, repos, secrets, parameters = set(), set(), set(), set()
    for td in task_defs:
        for c in td["containerDefinitions"]:
            options = c.get("logConfiguration", {}).get("options", {})
            groups.add(options.get("awslogs-group") or options.get("log_group_name"))
            if ".dkr.ecr." in c["image"]:
                repos.add(re.split(r"[:@]", c["image"].split("/", 1)[1])[0])
            for s in c.get("secrets", []):
                value = s["valueFrom"]
                if ":secretsmanager:" in value:
                    secrets.add(":".join(value.split(":")[:7]))
                else:
                    parameters.add(value.split(":parameter", 1)[-1])
            if "repositoryCredentials" in c:
                secrets.add(c["repositoryCredentials"]["credentialsParameter"])
    execution_roles = {td["executionRoleArn"] for td in task_defs}
    seen = Counter()
    for r in records:
        issuer = r["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
        if issuer not in execution_roles:
            continue
        params = r["requestParameters"] or {}
        if r["eventName"] == "CreateLogStream":
            assert params["logGroupName"] in groups
        elif r["eventName"] == "BatchGetImage":
            assert params["repositoryName"] in repos
        elif r["eventName"] == "GetSecretValue":
            assert params["secretId"] in secrets
        elif r["eventName"] == "GetParameters":
            assert set(params["names"]) <= parameters
        seen[r["eventName"]] += 1
    for name in ("CreateLogStream", "BatchGetImage", "GetSecretValue", "GetParameters",
                 "GetDownloadUrlForLayer", "GetAuthorizationToken"):  # fmt: skip
        assert seen[name], name


def test_task_definition_shapes(task_defs: list[dict[str, Any]]) -> None:
    containers = [c for td in task_defs for c in td["containerDefinitions"]]
    images = [c["image"] for c in containers]
    assert any("@sha256:" in i for i in images)
    assert any(i.startswith(("public.ecr.aws/", "docker.io/")) for i in images)
    values = [s["valueFrom"] for c in containers for s in c.get("secrets", [])]
    assert any(v.endswith(":password::") for v in values)
    assert any(not v.startswith("arn:") for v in values)
    assert any("repositoryCredentials" in c for c in containers)
    assert any("environmentFiles" in c for c in containers)
    assert any("firelensConfiguration" in c for c in containers)
    options = [c.get("logConfiguration", {}).get("options", {}) for c in containers]
    assert any(o.get("awslogs-create-group") == "true" for o in options)
    assert {td["status"] for td in task_defs} == {"ACTIVE", "INACTIVE"}
    families = Counter(td["family"] for td in task_defs)
    assert max(families.values()) == 2


def test_iam_file_shapes(iam: dict[str, Any]) -> None:
    assert set(iam) == {
        "UserDetailList", "GroupDetailList", "RoleDetailList", "Policies", "IsTruncated"
    }  # fmt: skip
    assert iam["IsTruncated"] is False
    roles = iam["RoleDetailList"]
    encoded = [r for r in roles if isinstance(r["AssumeRolePolicyDocument"], str)]
    assert len(encoded) == 1
    assert "Statement" in json.loads(urllib.parse.unquote(encoded[0]["AssumeRolePolicyDocument"]))
    documents = [p["PolicyDocument"] for r in roles for p in r["RolePolicyList"]]
    statements = []
    for doc in documents:
        stmt = doc["Statement"]
        statements.extend(stmt if isinstance(stmt, list) else [stmt])
    assert sum(isinstance(doc["Statement"], dict) for doc in documents) == 1
    assert any("NotAction" in s for s in statements)
    assert any(s["Effect"] == "Deny" for s in statements)
    assert any(isinstance(s.get("Action"), str) for s in statements)
    assert any("Condition" in s for s in statements)
    assert any(r.get("PermissionsBoundary") for r in roles)
    trusts = [r["AssumeRolePolicyDocument"] for r in roles if r not in encoded]
    services = [s["Principal"].get("Service") for t in trusts for s in t["Statement"]]
    assert "ec2.amazonaws.com" in services and "ecs-tasks.amazonaws.com" in services
    policies = {p["Arn"]: p for p in iam["Policies"]}
    execution = policies["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    (version,) = execution["PolicyVersionList"]
    assert version["IsDefaultVersion"] and version["VersionId"] == "v1"
    assert set(version["Document"]["Statement"][0]["Action"]) == {
        "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "logs:CreateLogStream",
        "logs:PutLogEvents",
    }  # fmt: skip
    multi = [p for p in policies.values() if len(p["PolicyVersionList"]) > 1]
    assert multi
    for p in multi:
        defaults = [v for v in p["PolicyVersionList"] if v["IsDefaultVersion"]]
        assert [v["VersionId"] for v in defaults] == [p["DefaultVersionId"]]
        non_default = [v["Document"] for v in p["PolicyVersionList"] if not v["IsDefaultVersion"]]
        assert any(doc != defaults[0]["Document"] for doc in non_default)
    paths = {r["Path"] for r in roles}
    assert {"/aws-reserved/sso.amazonaws.com/", "/aws-service-role/ecs.amazonaws.com/"} <= paths


# --- scale and arguments --------------------------------------------------------------------


def test_many_services(tmp_path: Path) -> None:
    result = simulate_account(tmp_path / "o", events=800, services=200, days=1)
    roles = json.loads(result.iam_path.read_text())["RoleDetailList"]
    names = {r["RoleName"] for r in roles}
    assert sum(n.endswith("-task") for n in names) == 200
    assert sum(n.endswith("-execution") for n in names) >= 195
    families = {td["family"] for td in json.loads(result.ecs_path.read_text())["taskDefinitions"]}
    assert len(families) == 200
    assert result.distinct_events == 800 + 6  # the traffic and the role changes


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        simulate_account(tmp_path / "a", events=-1)
    with pytest.raises(ConfigError):
        simulate_account(tmp_path / "b", services=0)
    with pytest.raises(ConfigError):
        simulate_account(tmp_path / "c", events_per_file=0)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ConfigError):
        simulate_account(tmp_path / "full", events=10)


def test_end_is_fixed_not_the_clock(tmp_path: Path) -> None:
    result = simulate_account(tmp_path / "o", events=50, days=1)
    assert result.end == datetime(2026, 11, 1, tzinfo=UTC)
    custom = simulate_account(tmp_path / "p", events=50, days=1, end=datetime(2025, 1, 2))
    assert custom.end == datetime(2025, 1, 2, tzinfo=UTC)
    assert custom.start == datetime(2025, 1, 1, tzinfo=UTC)
