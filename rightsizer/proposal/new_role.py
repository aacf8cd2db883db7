"""Roles for a service that has never run: the execution role and a task role skeleton, made only
of what its task definitions declare, each scoped as the declaration is.

Why: with no history there is no evidence of use, so nothing may be guessed. What a task
definition declares (``iam.ecs``: image pulls, log streams, secrets and parameters, registry
credentials, environment files, FireLens, EFS with IAM authorization, AWS's sidecars) is needed
before the first task can start, and it names its own resources. What it does not name (the KMS
key of a secret, the application's own calls) is listed as undecided, never granted on ``*``.
Pure: parsed task definitions in, ``NewRole`` values out; ``new_role_render`` writes them.

Facts relied on:
- Trust: ECS assumes both roles as ``ecs-tasks.amazonaws.com`` with ``sts:AssumeRole``; AWS
  recommends ``aws:SourceAccount`` and ``aws:SourceArn`` = ``arn:aws:ecs:REGION:ACCOUNT:*``
  against the confused deputy
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html, "Create the
  task IAM role"; https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
- ``kms:Decrypt`` for secrets: needed only with a customer managed key; the AWS managed
  ``aws/secretsmanager`` / ``aws/ssm`` keys need no grant
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
  Scoped with ``kms:ViaService`` = ``secretsmanager.REGION.amazonaws.com`` /
  ``ssm.REGION.amazonaws.com``, so the key decrypts only through those services
  (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
- A repository in another account also needs that account's repository policy to allow the role
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html,
  "Allow another account"); that is a change on the resource's side, listed, not made.
- Role names: 1 to 64 characters of ``[A-Za-z0-9_+=,.@-]`` (``aws_names.ROLE_NAME``); tags: at
  most 50 per resource, keys of 1 to 128 and values of 0 to 256 letters, digits, spaces and
  ``_.:/=+-@``, keys not starting with ``aws:``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html, "Tag naming rules").

Choices:
- The role the task definition already names (``executionRoleArn`` / ``taskRoleArn``) keeps its
  name and path, so the task definition needs no change; unless other families name the same
  role (``ecsTaskExecutionRole``), then this family gets its own ``FAMILY-execution`` and a note
  says to point the task definition at it.
- A family is designed from its newest revision in each region (ACTIVE or not yet registered
  before INACTIVE): what runs next, not what ran.
- The execution role is always written (ECS needs one for ECR, awslogs and secrets); a task role
  where the task definition names one or declares a need of the task role.
- The permissions are one customer managed policy named ``rightsizer-ROLE`` (split into
  ``-1``, ``-2`` past IAM's size limit), the name ``rightsizer run`` later proposes a new version
  of: taggable, versioned, one place to shrink.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rightsizer import aws_names
from rightsizer.iam.ecs import Need, RoleKind, TaskDefinition, ecr_pull_statement
from rightsizer.iam.evaluate import Request, evaluate
from rightsizer.iam.patterns import sample_match
from rightsizer.iam.policy import Condition, parse_policy
from rightsizer.iam.trust import ecs_trust_policy
from rightsizer.proposal.build import group_statements
from rightsizer.proposal.model import PolicyDocument, ProposedStatement
from rightsizer.proposal.split import split_statements

__all__ = [
    "NewRole",
    "ResourceChange",
    "Undecided",
    "design_new_roles",
    "parse_tags",
    "prove_new_role",
]

_KMS_KEY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):key/[A-Za-z0-9-]+"
)
_TAG_CHARS = frozenset("_.:/=+-@ ")
_MAX_TAGS = 50
_LATEST_FIRST = {"ACTIVE": 0, "UNREGISTERED": 0, "INACTIVE": 1}
# A task id as ECS makes them today (32 hex characters): the proof's "fresh task".
_FRESH_TASK = "f" * 8 + "0123456789abcdef" + "e" * 8


@dataclass(frozen=True, slots=True)
class Undecided:
    """A need the task definition declares but does not pin down: not granted, and why."""

    what: str  # "kms:Decrypt for secret DB_PASSWORD from arn:...:secret:orders/db-Qle5KH"
    reason: str
    field: str  # where the task definition declares it

    def as_json(self) -> dict[str, str]:
        return {"what": self.what, "reason": self.reason, "field": self.field}


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """A change on the resource's side (a repository policy in another account) without which
    the role's own grant is not enough."""

    resource: str  # the resource's ARN
    account: str  # the account that must make the change
    what: str  # a sentence
    statement: Mapping[str, Any]  # the resource-policy statement to add

    def as_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "account": self.account, "what": self.what,
                "statement": dict(self.statement)}


@dataclass(frozen=True, slots=True)
class NewRole:
    """One role to create for a family: its trust, its permissions and what is left open."""

    family: str
    kind: RoleKind
    role_name: str
    path: str  # "/" or "/ecs/"
    partition: str
    account: str
    regions: tuple[str, ...]  # where the family's task definitions live, sorted
    task_definitions: tuple[str, ...]  # the revisions it was designed from
    documents: tuple[PolicyDocument, ...]  # none when nothing declared is decided
    needs: tuple[Need, ...]  # the declared needs it grants
    undecided: tuple[Undecided, ...]
    resource_changes: tuple[ResourceChange, ...]
    notes: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role{self.path}{self.role_name}"

    @property
    def statements(self) -> tuple[ProposedStatement, ...]:
        return tuple(s for d in self.documents for s in d.statements)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(sorted({a for s in self.statements for a in s.actions}))

    @property
    def trust(self) -> dict[str, Any]:
        return ecs_trust_policy(self.partition, self.account, self.regions)

    @property
    def description(self) -> str:
        what = "execution role" if self.kind == "execution" else "task role"
        return f"ECS {what} of task family {self.family}, made by rightsizer new-role"

    def as_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "kind": self.kind,
            "role_name": self.role_name,
            "role_arn": self.arn,
            "task_definitions": list(self.task_definitions),
            "actions": list(self.actions),
            "policies": [d.name for d in self.documents],
            "undecided": [u.as_json() for u in self.undecided],
            "resource_changes": [c.as_json() for c in self.resource_changes],
            "notes": list(self.notes),
            "tags": dict(self.tags),
        }


def parse_tags(pairs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` strings as IAM tags, checked against IAM's rules (module docstring).
    Raises ValueError naming the tag that breaks one."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"tag {pair!r} is not KEY=VALUE")
        for part, name, low, high in ((key, "key", 1, 128), (value, "value", 0, 256)):
            if not low <= len(part) <= high:
                raise ValueError(f"tag {pair!r}: the {name} must be {low} to {high} characters")
            if any(not (c.isalnum() or c in _TAG_CHARS) for c in part):
                raise ValueError(f"tag {pair!r}: the {name} may hold only letters, digits, "
                                 "spaces and _.:/=+-@")
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag {pair!r}: keys starting with aws: are AWS's own")
        if key.lower() in (k.lower() for k in tags):
            raise ValueError(f"tag {key!r} is given twice")
        tags[key] = value
    if len(tags) > _MAX_TAGS:
        raise ValueError(f"{len(tags)} tags: IAM takes at most {_MAX_TAGS} per role or policy")
    return tuple(tags.items())


def design_new_roles(
    task_definitions: Sequence[TaskDefinition],
    *,
    families: Sequence[str] = (),
    kms_keys: Sequence[str] = (),
    tags: Sequence[tuple[str, str]] = (),
) -> tuple[NewRole, ...]:
    """The roles for each family (``families``, or all), sorted by family then kind.

    ``kms_keys`` are the customer managed keys (key ARNs) that encrypt the families' secrets and
    parameters: with them, ``kms:Decrypt`` is granted on those keys through Secrets Manager and
    SSM only; without them it is undecided. Raises ValueError for a family that is not in
    ``task_definitions`` or a key that is not a KMS key ARN."""
    for key in kms_keys:
        if not _KMS_KEY_ARN.fullmatch(key):
            raise ValueError(f"--kms-key {key!r} is not a KMS key ARN "
                             "(arn:aws:kms:REGION:ACCOUNT:key/ID; an alias cannot be granted)")
    by_family: dict[str, list[TaskDefinition]] = defaultdict(list)
    for td in task_definitions:
        by_family[td.family].append(td)
    missing = [f for f in families if f not in by_family]
    if missing:
        raise ValueError(f"no task definition of family {', '.join(missing)} "
                         f"(families read: {', '.join(sorted(by_family)) or 'none'})")
    wanted = sorted(set(families)) if families else sorted(by_family)
    latest = {family: _newest_per_region(by_family[family]) for family in wanted}
    # Which families name each role, to tell a role of one family from a shared one.
    naming: dict[str, set[str]] = defaultdict(set)
    for family, tds in by_family.items():
        for td in tds:
            for arn in (td.execution_role_arn, td.task_role_arn):
                if arn:
                    naming[arn].add(family)
    roles: list[NewRole] = []
    for family in wanted:
        tds = latest[family]
        roles.append(_design(family, "execution", tds, naming, kms_keys, tags))
        if any(td.task_role_arn for td in tds) or any(n.kind == "task" for td in tds
                                                       for n in td.needs):
            roles.append(_design(family, "task", tds, naming, kms_keys, tags))
    return tuple(roles)


def _newest_per_region(tds: Sequence[TaskDefinition]) -> list[TaskDefinition]:
    by_region: dict[str, TaskDefinition] = {}
    for td in sorted(tds, key=lambda t: (_LATEST_FIRST.get(t.status, 2), -t.revision)):
        by_region.setdefault(td.region or "", td)
    return [by_region[region] for region in sorted(by_region)]


def _design(family: str, kind: RoleKind, tds: Sequence[TaskDefinition],
            naming: Mapping[str, set[str]], kms_keys: Sequence[str],
            tags: Sequence[tuple[str, str]]) -> NewRole:
    first = tds[0]
    partition = first.arn.split(":")[1]
    account = first.account or ""
    regions = tuple(sorted({td.region for td in tds if td.region}))
    named = [arn for td in tds
             for arn in ((td.execution_role_arn,) if kind == "execution" else (td.task_role_arn,))
             if arn]
    notes: list[str] = []
    name, path = _role_name(family, kind, named, naming, notes)
    needs = sorted({n for td in tds for n in td.needs if n.kind == kind},
                   key=lambda n: (n.field, n.actions, n.resource))
    granted: list[Need] = []
    undecided: list[Undecided] = []
    scoped: list[tuple[str, str, tuple[Condition, ...]]] = []
    decrypt_through: dict[str, set[str]] = defaultdict(set)  # key ARN -> kms:ViaService
    for need in needs:
        if need.optional:
            undecided.append(Undecided(f"{', '.join(need.actions)} on {need.resource}",
                                       f"{need.reason}: not granted", need.field))
            continue
        if not need.resource_known:
            keys = _keys_for(need, tds, kms_keys) if need.actions == ("kms:Decrypt",) else {}
            if keys:
                for key, services in keys.items():
                    decrypt_through[key] |= services
                granted.append(need)
            else:
                undecided.append(Undecided(f"{', '.join(need.actions)} for {need.field}",
                                           _undecided_reason(need), need.field))
            continue
        if _unsafe(need.resource):
            undecided.append(Undecided(
                f"{', '.join(need.actions)} on {need.resource}",
                f"{need.reason}: the name holds what no AWS resource name has (white space, a "
                "quote, a backslash or a policy variable ${...}); not granted", need.field))
            continue
        granted.append(need)
        scoped.extend((action, need.resource, ()) for action in need.actions)
    for key, services in sorted(decrypt_through.items()):
        via = (Condition("StringEquals", "kms:ViaService", tuple(sorted(services))),)
        scoped.append(("kms:Decrypt", key, via))
    if kind == "task":
        undecided.append(Undecided(
            "the application's own AWS calls",
            "only the application knows what it calls: add them when it is written, or run "
            "`rightsizer run` once the service has a history and let the evidence say",
            "taskRoleArn"))
    statements = group_statements(_widest_only(scoped))
    documents = split_statements(statements, base_name=f"rightsizer-{name}"[:128]) \
        if statements else ()
    return NewRole(
        family=family, kind=kind, role_name=name, path=path, partition=partition,
        account=account, regions=regions, task_definitions=tuple(td.arn for td in tds),
        documents=documents, needs=tuple(granted), undecided=tuple(undecided),
        resource_changes=tuple(_resource_changes(granted, account, partition, name, path)),
        notes=tuple(notes), tags=tuple(tags))


def _unsafe(resource: str) -> bool:
    """Whether an ARN built from the task definition holds what no AWS name does. In a policy
    ``${...}`` is a policy variable, not text
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), so such
    a grant would not name the resource at all."""
    return "${" in resource or any(c.isspace() or not 0x21 <= ord(c) <= 0x7E or c in '"\\'
                                   for c in resource)


def _role_name(family: str, kind: RoleKind, named: Sequence[str],
               naming: Mapping[str, set[str]], notes: list[str]) -> tuple[str, str]:
    """The name and path of the role (module docstring, "Choices")."""
    field = "executionRoleArn" if kind == "execution" else "taskRoleArn"
    own = _own_name(family, kind)
    distinct = sorted(set(named))
    if len(distinct) == 1:
        arn = distinct[0]
        shared = sorted(naming.get(arn, set()) - {family})
        tail = arn.split(":", 5)[5].removeprefix("role")
        path, _, name = tail.rpartition("/")
        if not shared and aws_names.ROLE_NAME.fullmatch(name):
            return name, f"{path}/"
        if shared:
            notes.append(f"the task definition's {field} {arn} is also the role of "
                         f"{', '.join(shared)}: this family gets its own role {own}; point "
                         f"{field} at it")
            return own, "/"
    elif len(distinct) > 1:
        notes.append(f"the revisions name several {field}s ({', '.join(distinct)}): one role "
                     f"{own} is designed for them all; point {field} at it")
        return own, "/"
    notes.append(f"the task definition names no {field}: set it to this role")
    return own, "/"


def _own_name(family: str, kind: RoleKind) -> str:
    suffix = f"-{kind}"
    name = f"{family}{suffix}"
    if len(name) <= 64:
        return name
    digest = hashlib.sha256(family.encode()).hexdigest()[:8]
    return f"{family[:64 - len(suffix) - 9]}-{digest}{suffix}"


def _keys_for(need: Need, tds: Sequence[TaskDefinition], kms_keys: Sequence[str]
              ) -> dict[str, set[str]]:
    """The given keys that can decrypt the secret or parameter behind a decrypt need, each with
    its ``kms:ViaService`` value: the service of the sibling need on the same field. A KMS key
    is regional, so only keys of the secret's region and partition qualify."""
    keys: dict[str, set[str]] = defaultdict(set)
    for td in tds:
        for sibling in td.needs:
            if sibling.field != need.field or not sibling.resource.startswith("arn:"):
                continue
            parts = sibling.resource.split(":")
            if parts[2] not in ("secretsmanager", "ssm"):
                continue
            suffix = ".amazonaws.com.cn" if parts[1] == "aws-cn" else ".amazonaws.com"
            for key in kms_keys:
                match = _KMS_KEY_ARN.fullmatch(key)
                if match and (match["partition"], match["region"]) == (parts[1], parts[3]):
                    keys[key].add(f"{parts[2]}.{parts[3]}{suffix}")
    return keys


def _undecided_reason(need: Need) -> str:
    if need.actions == ("kms:Decrypt",):
        return (f"{need.reason}. Not granted: name the key with --kms-key when it is a customer "
                "managed key (a key of the secret's own region)")
    return f"{need.reason}. Not granted on a resource the task definition does not name"


def _widest_only(scoped: Sequence[tuple[str, str, tuple[Condition, ...]]]
                 ) -> list[tuple[str, str, tuple[Condition, ...]]]:
    """Drop an action's specific resources where the same action is needed on ``*``."""
    everywhere = {(a, c) for a, r, c in scoped if r == "*"}
    return sorted({(a, r, c) for a, r, c in scoped if r == "*" or (a, c) not in everywhere})


def _resource_changes(needs: Sequence[Need], account: str, partition: str, name: str,
                      path: str) -> list[ResourceChange]:
    role_arn = f"arn:{partition}:iam::{account}:role{path}{name}"
    changes: dict[str, ResourceChange] = {}
    for need in needs:
        if not need.resource.startswith("arn:") or ":ecr:" not in need.resource:
            continue
        owner = need.resource.split(":")[4]
        if owner == account or need.resource in changes:
            continue
        repository = need.resource.split(":repository/", 1)[-1]
        changes[need.resource] = ResourceChange(
            resource=need.resource, account=owner,
            what=(f"repository {repository} is in account {owner}: its repository policy must "
                  f"allow {role_arn} to pull (aws ecr set-repository-policy in {owner})"),
            statement=ecr_pull_statement(
                role_arn, "AllowPull" + re.sub(r"[^A-Za-z0-9]", "", name)[:60]))
    return [changes[key] for key in sorted(changes)]


# --- proof ----------------------------------------------------------------------------------


def prove_new_role(role: NewRole, fresh_task: str = _FRESH_TASK) -> tuple[str, ...]:
    """What the role's policy gets wrong, by rightsizer's evaluator: every granted need must be
    allowed on a task that has never run (``fresh_task`` fills the wildcards of its resource),
    and the actions of AWS's managed ``AmazonECSTaskExecutionRolePolicy`` must be denied on
    resources the task definitions do not name. Empty when it is right."""
    policies = [parse_policy(d.as_json(), name=d.name, kind="managed") for d in role.documents]
    failures: list[str] = []
    for request in _needed_requests(role, fresh_task):
        decision = evaluate(request, policies)
        if not decision.allowed or decision.conditional:
            failures.append(f"{request.action} on {request.resource} is not allowed "
                            f"({decision.effect})")
    for request in _foreign_requests(role):
        decision = evaluate(request, policies)
        if decision.allowed:
            failures.append(f"{request.action} on {request.resource} is allowed, but nothing "
                            f"declared needs it (by {', '.join(decision.decided_by)})")
    return tuple(failures)


def _needed_requests(role: NewRole, fresh_task: str) -> list[Request]:
    requests: list[Request] = []
    kms = [s for s in role.statements if "kms:Decrypt" in s.actions]
    for need in role.needs:
        if need.actions == ("kms:Decrypt",):
            for statement in kms:
                services = next(c.values for c in statement.conditions
                                if c.key == "kms:ViaService")
                requests.extend(Request("kms:Decrypt", key, {"kms:ViaService": (service,)},
                                        context_complete=True)
                                for key in statement.resources for service in services)
            continue
        resource = (need.resource if need.resource == "*"  # takes no resource: stays "*"
                    else sample_match(need.resource, fresh_task))
        requests.extend(Request(action, resource, context_complete=True)
                        for action in need.actions)
    return requests


def _foreign_requests(role: NewRole) -> list[Request]:
    """AmazonECSTaskExecutionRolePolicy's actions where nothing needs them."""
    region = role.regions[0] if role.regions else "us-east-1"
    head = f"arn:{role.partition}"
    other_repo = f"{head}:ecr:{region}:{role.account}:repository/rightsizer-proof/not-declared"
    other_stream = (f"{head}:logs:{region}:{role.account}:log-group:/rightsizer-proof/"
                    "not-declared:log-stream:x")
    requests = [Request("ecr:BatchGetImage", other_repo, context_complete=True),
                Request("ecr:GetDownloadUrlForLayer", other_repo, context_complete=True),
                Request("ecr:BatchCheckLayerAvailability", other_repo, context_complete=True),
                Request("logs:CreateLogStream", other_stream, context_complete=True),
                Request("logs:PutLogEvents", other_stream, context_complete=True)]
    for statement in role.statements:
        if "kms:Decrypt" in statement.actions:
            requests.extend(Request("kms:Decrypt", key,
                                    {"kms:ViaService": (f"s3.{region}.amazonaws.com",)},
                                    context_complete=True) for key in statement.resources)
    pulls_from_ecr = any("ecr:GetAuthorizationToken" in n.actions for n in role.needs)
    if not pulls_from_ecr:
        requests.append(Request("ecr:GetAuthorizationToken", "*", context_complete=True))
    return requests
