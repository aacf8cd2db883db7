"""A deterministic synthetic AWS organization member account, for tests, demos and benchmarks.

`simulate_account(OUT)` writes three inputs rightsizer reads, all consistent with each other:

- `OUT/cloudtrail/AWSLogs/o-.../ACCOUNT/CloudTrail/...`: an organization trail's delivery files
  (gzip `{"Records": [...]}`, ~0.5% of records delivered twice) for the main account in
  us-east-1 (most traffic), eu-west-1 and ap-southeast-2, and a member account with a little
  traffic; hourly `CloudTrail-Digest/` files beside them.
- `OUT/iam/authorization-details.json`: `aws iam get-account-authorization-details` output.
- `OUT/ecs/task-definitions.json`: `{"taskDefinitions": [...]}` as describe-task-definition.

The account holds `services` ECS services. The first six are hand-made archetypes, each carrying
special cases: orders-api (DynamoDB/SQS/SNS, `s3:*` with a Condition, a managed policy with a
non-default version, a `:password::` secret, a bare SSM name), payments-worker (image by digest,
`awslogs-create-group`, ECS Exec, a Statement object), reports-batch (Allow NotAction + explicit
Deny, permissions boundary, URL-encoded trust policy, environment file in S3), web-frontend (bare
task role name, public images, FireLens, AccessDenied and UnauthorizedOperation calls), ingest-eu
(eu-west-1, Docker Hub image with repository credentials) and notifier (ap-southeast-2, an old
revision naming a role that trusts ec2.amazonaws.com). Further services are numbered copies with
their own, tighter roles. The shared `ecsTaskExecutionRole` (managed policy + `kms:*` and secrets on
`*`) serves the first three.

Per task launch ECS assumes the execution role and the task role (session name = task ID); the
execution role pulls from ECR, reads secrets and parameters (with KMS decrypts by Secrets Manager
and SSM on its behalf) and creates log streams; the task role then makes the application's calls
(S3, DynamoDB, SQS and SNS data events, KMS, Secrets Manager), with credential refreshes every few
hours. About a quarter of the volume comes from other principals: an IAM user with the CLI, a
Lambda role, an EC2 instance role, SSO console users, ECS's service-linked role, AWS services,
root console sign-ins and a cross-account (`AWSAccount`) caller. A few changes to ECS roles
(inline policies rewritten, policies attached and detached, a trust policy replaced) are in the
window too (`simulate.changes`); `failures` adds services that fail to start
(`simulate.failures`).

Same arguments, same bytes: only `random.Random(seed)` is used, never the clock.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from rightsizer.errors import ConfigError
from rightsizer.simulate.activity import Engine, streams
from rightsizer.simulate.build import build_account
from rightsizer.simulate.changes import role_changes
from rightsizer.simulate.clock import iso
from rightsizer.simulate.cloudtrail import DeliveryWriter
from rightsizer.simulate.ecs import task_definition, task_definitions
from rightsizer.simulate.failures import Failing, add_failing_services
from rightsizer.simulate.iam import authorization_details
from rightsizer.simulate.ids import Rng
from rightsizer.simulate.model import HOME_REGION, TRAIL_NAME, Account
from rightsizer.simulate.signing import SigningKey

__all__ = ["DEFAULT_END", "SimulationResult", "simulate_account"]

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SimulationResult:
    root: Path  # OUT
    cloudtrail_dir: Path  # OUT/cloudtrail (holds AWSLogs/...)
    iam_path: Path  # OUT/iam/authorization-details.json (a folder of them, per account)
    ecs_path: Path  # OUT/ecs/task-definitions.json (a folder of them, per account)
    trail_path: Path  # OUT/trail/event-selectors.json: what the simulated trail records
    distinct_events: int  # distinct eventIDs written in delivery files
    duplicate_deliveries: int  # records written a second time in a later delivery file
    delivery_files: int  # *.json.gz files under CloudTrail/ folders
    digest_files: int  # files under CloudTrail-Digest/
    start: datetime  # UTC window of eventTime covered: start <= eventTime < end
    end: datetime
    stopped_tasks_path: Path | None = None  # OUT/ecs/stopped-tasks.json, with failures
    # OUT/trail/public-keys.json: the keys that verify the digests (list-public-keys output).
    public_keys_path: Path | None = None
    # OUT/iam/last-accessed.json: IAM's last-accessed data of the ECS roles (a second witness).
    last_accessed_path: Path | None = None
    accounts: tuple[str, ...] = ()  # the accounts simulated, the trail's home first


# The data-event types the simulated traffic records (records.py marks them eventCategory Data).
DATA_EVENT_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Object", "AWS::SNS::Topic",
                    "AWS::SQS::Queue", "AWS::SSMMessages::ControlChannel")


def event_selectors(account: Account) -> dict[str, object]:
    """The trail's ``aws cloudtrail get-event-selectors`` output: every management event, and
    the data events of the types the simulated traffic holds."""
    selectors: list[dict[str, object]] = [{
        "Name": "Management events",
        "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
    }]
    for data_type in DATA_EVENT_TYPES:
        selectors.append({
            "Name": f"Data events: {data_type}",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                               {"Field": "resources.type", "Equals": [data_type]}],
        })
    return {
        "TrailARN": f"arn:aws:cloudtrail:{HOME_REGION}:{account.account_id}:trail/{TRAIL_NAME}",
        "AdvancedEventSelectors": selectors,
    }


def _check(events: int, services: int, days: int, events_per_file: int | None) -> None:
    if events < 0:
        raise ConfigError(f"events must be >= 0, got {events}")
    if services < 1:
        raise ConfigError(f"services must be >= 1, got {services}")
    if days < 1:
        raise ConfigError(f"days must be >= 1, got {days}")
    if events_per_file is not None and events_per_file < 1:
        raise ConfigError(f"events_per_file must be >= 1, got {events_per_file}")


def simulate_account(
    out: Path,
    *,
    events: int = 5000,
    seed: int = 0,
    services: int = 6,
    days: int = 35,
    end: datetime | None = None,
    events_per_file: int | None = None,
    digest_hours: int = 1,
    failures: bool = False,
    accounts: int = 1,
) -> SimulationResult:
    """Write the simulated account under `out` (which must be empty or absent).

    `events` distinct CloudTrail events of traffic spread over the `days` before `end` (default
    2026-11-01T00:00:00Z), with the account's six role changes on top; `events_per_file` is the
    mean number of records per delivery file, or None for realistic five-minute files per
    account and region. `digest_hours` is the period
    of digest files: CloudTrail writes one an hour; a small sample may want fewer.
    `failures` adds services whose tasks fail to start (``simulate.failures``), and
    `OUT/ecs/stopped-tasks.json` with their stopped tasks; the rest of the account is the same.

    `accounts` > 1 simulates an organization: that many accounts, each its own ECS services and
    roles (role names repeat across accounts, as they do in real organizations), their traffic
    (`events` shared among them) in one organization trail, and the IAM and ECS files one per
    account: `OUT/iam/authorization-details/ACCOUNT.json`, `OUT/ecs/task-definitions/ACCOUNT.json`.
    The first account is the one a single-account simulation writes (the trail's home); the
    others draw from their own seeds.
    """
    _check(events, services, days, events_per_file)
    if digest_hours < 1:
        raise ConfigError(f"digest_hours must be at least 1, not {digest_hours}")
    if accounts < 1:
        raise ConfigError(f"accounts must be >= 1, got {accounts}")
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} is not empty: the simulation writes a fresh tree")
    end_dt = end or DEFAULT_END
    # A naive `end` is taken as UTC; sub-second precision would not survive eventTime anyway.
    end_dt = end_dt.replace(tzinfo=UTC) if end_dt.tzinfo is None else end_dt.astimezone(UTC)
    end_dt = end_dt.replace(microsecond=0)
    end_sec = int(end_dt.timestamp())
    start_sec = end_sec - days * 86_400
    window = (start_sec, end_sec)

    # The first account draws from `seed` as a single-account simulation does (same bytes);
    # each further account from a seed of its own.
    first = _AccountSim.draw(random.Random(seed), services, window, failures=failures)
    sims = [first]
    for number in range(1, accounts):
        sim = _AccountSim.draw(random.Random(f"rightsizer-organization-{seed}-{number}"),
                               services, window, failures=False)
        sim.account.org_id, sim.account.bucket = first.account.org_id, first.account.bucket
        sims.append(sim)
    shares = [events // accounts + (events % accounts if n == 0 else 0)
              for n in range(accounts)]

    cloudtrail_dir = root / "cloudtrail"
    totals = _Totals()
    keys: dict[str, SigningKey] = {}
    signatures: dict[str, str] = {}
    last_accessed: dict[str, object] = {}
    details: dict[str, object] = {}
    definitions: dict[str, dict[str, list[object]]] = {}
    stopped_path = None
    for sim, share in zip(sims, shares, strict=True):
        writer = DeliveryWriter(
            cloudtrail_dir, sim.account.org_id, sim.account.bucket, TRAIL_NAME,
            streams(sim.account), sim.writer_rng, events_per_file, digest_hours * 3600,
            key_seed=seed,
        )  # fmt: skip
        engine = sim.write_traffic(writer, share, window)
        totals.add(engine, writer, sim)
        keys.update(writer.keys)
        signatures.update(writer.signatures)
        account_id = sim.account.account_id
        details[account_id] = authorization_details(sim.account, sim.docs_rng, engine.last_used)
        # IAM's last-accessed data of the ECS roles, the second witness (simulate/last_accessed.py).
        ecs_roles = {r.arn: r.name for r in sim.account.roles if r.kind in ("execution", "task")}
        last_accessed.update(engine.last_accessed.output(ecs_roles, end_sec))
        definitions[account_id] = task_definitions(sim.account, sim.docs_rng)
        if sim.failing is not None:
            failing_rng = random.Random(seed)
            definitions[account_id]["taskDefinitions"] += [
                task_definition(svc, rev, sim.account, failing_rng)
                for svc in sim.failing.services for rev in svc.revisions]
            stopped_path = root / "ecs" / "stopped-tasks.json"
            stopped_path.parent.mkdir(parents=True, exist_ok=True)
            stopped_path.write_bytes(orjson.dumps(
                {"tasks": sim.failing.stopped_tasks, "failures": []},
                option=orjson.OPT_INDENT_2))

    if accounts == 1:
        iam_path = root / "iam" / "authorization-details.json"
        ecs_path = root / "ecs" / "task-definitions.json"
        _write_json(iam_path, details[first.account.account_id])
        _write_json(ecs_path, definitions[first.account.account_id])
    else:  # one file per account, as `aws iam get-account-authorization-details` writes them
        iam_path = root / "iam" / "authorization-details"
        ecs_path = root / "ecs" / "task-definitions"
        for account_id in details:
            _write_json(iam_path / f"{account_id}.json", details[account_id])
            _write_json(ecs_path / f"{account_id}.json", definitions[account_id])
    last_accessed_path = root / "iam" / "last-accessed.json"
    _write_json(last_accessed_path, last_accessed)
    trail_path = root / "trail" / "event-selectors.json"
    _write_json(trail_path, event_selectors(first.account))
    # The keys that verify the digests, as `aws cloudtrail list-public-keys` prints them, and
    # each digest's signature as CloudTrail sets it in the S3 object's metadata (a local copy
    # has none): what a test needs to upload the logs to S3 as CloudTrail delivers them.
    validity = (iso(start_sec - 86_400), iso(end_sec + 86_400))
    public_keys_path = root / "trail" / "public-keys.json"
    _write_json(public_keys_path, {"PublicKeyList": [
        key.listing(*validity) for _, key in sorted(keys.items())]})
    _write_json(root / "trail" / "digest-signatures.json", dict(sorted(signatures.items())))
    return SimulationResult(
        root=root,
        cloudtrail_dir=cloudtrail_dir,
        iam_path=iam_path,
        ecs_path=ecs_path,
        trail_path=trail_path,
        distinct_events=totals.distinct_events,
        duplicate_deliveries=totals.duplicates,
        delivery_files=totals.delivery_files,
        digest_files=totals.digest_files,
        start=datetime.fromtimestamp(start_sec, UTC),
        end=end_dt,
        stopped_tasks_path=stopped_path,
        public_keys_path=public_keys_path,
        last_accessed_path=last_accessed_path,
        accounts=tuple(sim.account.account_id for sim in sims),
    )


@dataclass
class _AccountSim:
    """One account of a simulation, and the random streams it draws from."""

    account: Account
    traffic_rng: Rng
    writer_rng: Rng
    docs_rng: Rng
    changes: list[tuple[int, dict[str, object]]]
    failing: Failing | None
    extra: list[tuple[int, int, bytes]] = field(default_factory=list)  # changes, failures

    @classmethod
    def draw(cls, master: random.Random, services: int, window: tuple[int, int], *,
             failures: bool) -> _AccountSim:
        # Independent streams per concern, so e.g. the IAM file does not change with `events`.
        model_rng, traffic_rng, writer_rng, docs_rng = (
            Rng(master.getrandbits(64)) for _ in range(4)
        )
        account = build_account(model_rng, services, window[0])
        # Streams drawn after the four, records merged into the traffic in time order: the
        # rest of the account is what it would be without them.
        changes = role_changes(account, Rng(master.getrandbits(64)), *window)
        failing = None
        if failures:
            failing = add_failing_services(account, Rng(master.getrandbits(64)), window[1])
        return cls(account, traffic_rng, writer_rng, docs_rng, changes, failing)

    def write_traffic(self, writer: DeliveryWriter, events: int,
                      window: tuple[int, int]) -> Engine:
        """The account's traffic, role changes and failures, delivered by ``writer``."""
        engine = Engine(self.account, self.traffic_rng, *window, events)
        home = engine.stream_of[(self.account.account_id, HOME_REGION)]
        self.extra = sorted([(sec, home, orjson.dumps(record)) for sec, record in self.changes]
                            + (self.failing.serialized(home) if self.failing else []))
        for sec, stream, data in heapq.merge(engine.run(), self.extra, key=lambda r: r[0]):
            writer.add(sec, stream, data)
        writer.close(*window)
        return engine


@dataclass
class _Totals:
    distinct_events: int = 0
    duplicates: int = 0
    delivery_files: int = 0
    digest_files: int = 0

    def add(self, engine: Engine, writer: DeliveryWriter, sim: _AccountSim) -> None:
        self.distinct_events += engine.emitted + len(sim.extra)
        self.duplicates += writer.duplicates
        self.delivery_files += writer.delivery_files
        self.digest_files += writer.digest_files


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
