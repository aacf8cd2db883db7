"""Issue 12, cases 1 and 2: ``run`` never deletes a path it did not write in its own folder, and
never writes outside it. A task definition naming a role ``..`` (absent from the IAM data, so it
gets no proposal) made the second run remove everything in OUT, unrelated files included; role
names that are paths (``.``, ``..``, ``a/b``, 300 characters) wrote beside or outside OUT."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rightsizer
from rightsizer.analysis.inventory import invalid_role_arn
from rightsizer.aws_names import ROLE_NAME, role_folder_name
from rightsizer.sources.iam import load_authorization_details

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"


def test_a_role_named_dot_dot_never_empties_the_output_folder(tmp_path: Path) -> None:
    ecs = json.loads((SAMPLE / "ecs/task-definitions.json").read_text())
    ecs["taskDefinitions"][0]["taskRoleArn"] = "arn:aws:iam::883921282152:role/.."
    ecs_file = tmp_path / "ecs.json"
    ecs_file.write_text(json.dumps(ecs))
    out = tmp_path / "out"
    out.mkdir()
    keep = out / "notes-of-mine.txt"
    keep.write_text("not rightsizer's")
    (out / "roles").mkdir()
    sibling = out / "roles" / "hand-written"
    sibling.mkdir()
    (sibling / "x.txt").write_text("mine too")
    db = tmp_path / "s.duckdb"
    for logs in (["sample_logs/cloudtrail"], []):
        result = rightsizer.run(logs=[str(ROOT / p) for p in logs], iam=SAMPLE /
                                "iam/authorization-details.json", ecs=ecs_file, out=out, db=db,
                                trail_files=[SAMPLE / "trail/event-selectors.json"], workers=1)
        assert any(r.role.name == ".." for r in result.roles)
    assert keep.read_text() == "not rightsizer's"
    assert (sibling / "x.txt").read_text() == "mine too"
    assert (out / "summary.json").is_file()
    assert (out / "roles" / "orders-api-task" / "policy.json").is_file()


# --- case 2: role names as paths ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "folder"), [
    ("orders-api-task", "orders-api-task"),
    ("Svc+Role=a,b@c_d.e", "Svc+Role=a,b@c_d.e"),
    ("..", "%2E%2E"),
    (".", "%2E"),
    (".hidden.role", "%2Ehidden.role"),
    ("a..b", "a..b"),
    # Never valid in IAM; encoded all the same should one ever get this far.
    ("../../ESCAPED", "%2E%2E%2F%2E%2E%2FESCAPED"),
    ("a/b", "a%2Fb"),
    ("x\ny", "x%0Ay"),
    ("100%", "100%25"),
])
def test_folder_names_are_the_role_name_or_an_encoding_that_stays_in_its_folder(
        name: str, folder: str) -> None:
    assert role_folder_name(name) == folder


@given(st.lists(st.from_regex(ROLE_NAME, fullmatch=True), min_size=2, max_size=6,
                unique_by=str.lower))
def test_every_valid_role_name_gets_its_own_plain_folder(names: list[str]) -> None:
    folders = [role_folder_name(n) for n in names]
    assert len(set(folders)) == len(names)  # distinct names never share a folder
    for folder in folders:
        assert folder not in (".", "..") and not folder.startswith(".")
        assert "/" not in folder and "\\" not in folder and len(folder.encode()) <= 255


@pytest.mark.parametrize(("arn", "why"), [
    ("arn:aws:iam::883921282152:role/" + "r" * 300, "is not an IAM role name"),
    ("arn:aws:iam::883921282152:role/bad name", "is not an IAM role ARN"),
    ("arn:aws:iam::883921282152:role/a\nb", "is not an IAM role ARN"),
    ("arn:aws:iam::883921282152:role/ecs/caf\u00e9", "is not an IAM role ARN"),
    ("arn:aws:iam::883921282152:role/ecs/a!b", "is not an IAM role name"),
    ("arn:aws:iam::8839:role/app", "is not an IAM role ARN"),
])
def test_a_role_arn_iam_could_not_hold_is_refused_with_the_reason(arn: str, why: str) -> None:
    reason = invalid_role_arn(arn)
    assert reason is not None and why in reason
    assert "\n" not in reason and len(reason) < 300


@pytest.mark.parametrize("arn", ["arn:aws:iam::883921282152:role/..",
                                 "arn:aws:iam::883921282152:role/ecs/../../ESCAPED",
                                 "arn:aws-cn:iam::883921282152:role/a=b,c@d"])
def test_role_arns_iam_allows_are_accepted(arn: str) -> None:
    assert invalid_role_arn(arn) is None


def _renamed_sample(tmp_path: Path, renames: dict[str, str]) -> tuple[Path, Path, Path]:
    """A copy of sample_logs/ with roles renamed everywhere (IAM, ECS, CloudTrail)."""
    def rename(text: str) -> str:
        for old, new in renames.items():
            text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)
        return text

    copy = tmp_path / "sample"
    # Rewritten logs are not what CloudTrail delivered: their digests would (rightly) call them
    # modified, so the copy goes without them.
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("CloudTrail-Digest"))
    for path in copy.rglob("*.json*"):
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(rename(gzip.decompress(path.read_bytes()).decode())
                                           .encode()))
        else:
            path.write_text(rename(path.read_text()))
    return (copy / "cloudtrail", copy / "iam/authorization-details.json",
            copy / "ecs/task-definitions.json")


def test_roles_named_dot_and_dot_dot_get_encoded_folders_and_their_true_names(
        tmp_path: Path) -> None:
    logs, iam, ecs = _renamed_sample(tmp_path, {"notifier-task": "..",
                                                "notifier-execution": "."})
    out = tmp_path / "out"
    result = rightsizer.run(logs=[str(logs)], iam=iam, ecs=ecs, out=out,
                            db=tmp_path / "s.duckdb",
                            trail_files=[SAMPLE / "trail/event-selectors.json"], workers=1)
    by_name = {r.role.name: r for r in result.roles}
    assert by_name[".."].proposal is not None and by_name["."].proposal is not None
    summary = json.loads((out / "summary.json").read_text())
    paths = {r["name"]: r["policy_path"] for r in summary["roles"]}
    assert paths[".."] == "roles/%2E%2E/policy.json"
    assert paths["."] == "roles/%2E/policy.json"
    for name, path in paths.items():
        if path:  # every path the summary names is there, and holds the role's true name
            assert (out / path).is_file()
            assert f"IAM role {name}" in (out / path).with_name("policy.tf").read_text()
    # Nothing landed beside the roles' folders or in OUT itself.
    assert not (out / "policy.json").exists() and not (out / "roles/policy.json").exists()
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == sorted(
        ["summary.json", "report.html", "report.md", "findings.csv"])


def _with_roles(tmp_path: Path, names: list[str]) -> Path:
    data = json.loads((SAMPLE / "iam/authorization-details.json").read_text())
    template = next(r for r in data["RoleDetailList"] if r["RoleName"] == "orders-api-task")
    for name in names:
        data["RoleDetailList"].append(
            {**template, "RoleName": name, "Arn": f"arn:aws:iam::883921282152:role/{name}",
             "Path": "/"})
    path = tmp_path / "iam.json"
    path.write_text(json.dumps(data))
    return path


def test_role_entries_iam_would_refuse_are_bad_input_and_never_roles(tmp_path: Path) -> None:
    bad = ["../../ESCAPED", "a/b", "r" * 300, "tab\there", ""]
    details = load_authorization_details(_with_roles(tmp_path, bad))
    names = {r.name for r in details.roles}
    assert not names & set(bad)
    assert "orders-api-task" in names  # the rest is still read
    reasons = [p.reason for p in details.problems]
    assert sum("is not an IAM role name" in r for r in reasons) == 4  # "" is "missing"
    assert all(len(r) < 300 and "\t" not in r for r in reasons)


def test_a_second_different_entry_for_a_role_is_a_problem_and_the_first_wins(
        tmp_path: Path) -> None:
    data = json.loads((SAMPLE / "iam/authorization-details.json").read_text())
    first = next(r for r in data["RoleDetailList"] if r["RoleName"] == "orders-api-task")
    data["RoleDetailList"].append({**first, "RolePolicyList": [], "AttachedManagedPolicies": [
        {"PolicyName": "AdministratorAccess",
         "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]})
    data["RoleDetailList"].append({**first, "RoleName": "ORDERS-API-TASK",
                                   "Arn": "arn:aws:iam::883921282152:role/ORDERS-API-TASK"})
    data["RoleDetailList"].append(dict(first))  # the same entry twice is no contradiction
    path = tmp_path / "iam.json"
    path.write_text(json.dumps(data))
    details = load_authorization_details(path)
    role = next(r for r in details.roles if r.name == "orders-api-task")
    assert role.inline_policies  # the first entry's grants
    assert not any(r.name == "ORDERS-API-TASK" for r in details.roles)
    duplicates = [p for p in details.problems if "a second, different entry" in p.reason]
    assert len(duplicates) == 2


def test_run_with_invalid_role_names_exits_4_and_writes_only_inside_out(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rightsizer.cli import main

    iam = _with_roles(tmp_path, ["../../ESCAPED", "r" * 300])
    ecs = json.loads((SAMPLE / "ecs/task-definitions.json").read_text())
    ecs["taskDefinitions"][0]["taskRoleArn"] = "arn:aws:iam::883921282152:role/../../ESCAPED2"
    ecs["taskDefinitions"][1]["taskRoleArn"] = "arn:aws:iam::883921282152:role/" + "q" * 300
    ecs_file = tmp_path / "ecs.json"
    ecs_file.write_text(json.dumps(ecs))
    work = tmp_path / "work"
    (work / "out").mkdir(parents=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(main, [
        "run", "--logs", str(SAMPLE / "cloudtrail"), "--iam", str(iam), "--ecs", str(ecs_file),
        "--out", str(work / "out"), "--db", str(work / "s.duckdb"),
        "--trail", str(SAMPLE / "trail/event-selectors.json")])
    assert result.exit_code == 4, result.output
    assert "is not an IAM role name" in result.output
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    outside = [p for p in after if p not in before and not str(p).startswith("work")]
    assert outside == []
    assert not any("ESCAPED" in str(p) for p in after)
