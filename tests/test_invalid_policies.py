"""Issue 12, case 12: a proposal never carries a statement IAM would refuse.

An unknown condition operator (``StringEqualsBogus``), in an Allow or in a Deny, was copied into
the proposed policy.json. IAM refuses such a policy, so the data was edited or forged and what
it grants is nobody's guess: the role gets a ``POLICY_INVALID`` finding and no proposal, the run
names the policy and exits 4, and every other role is still rightsized. Every proposal rightsizer
writes is also linted by parliament (an IAM policy linter nobody here wrote).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from rightsizer.cli import main
from rightsizer.iam.catalog import catalog

parliament = pytest.importorskip("parliament")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
GOLDEN = ROOT / "tests" / "golden" / "sample"
BOGUS = {"StringEqualsBogus": {"aws:SourceAccount": "883921282152"}}


def _iam_with_bogus_operators(tmp_path: Path) -> Path:
    data = json.loads((SAMPLE / "iam/authorization-details.json").read_text())
    roles = {r["RoleName"]: r for r in data["RoleDetailList"]}

    def statements(role: str) -> list[dict]:
        entry = roles[role]["RolePolicyList"][0]
        document = entry["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(unquote(document))
        if not isinstance(document["Statement"], list):
            document["Statement"] = [document["Statement"]]
        entry["PolicyDocument"] = document
        return document["Statement"]

    statements("payments-worker-task")[0]["Condition"] = BOGUS
    statements("web-frontend-task").append(
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*",
         "Condition": {"StringNotEqualsBogus": {"aws:SourceVpc": "vpc-1"}}})
    path = tmp_path / "iam.json"
    path.write_text(json.dumps(data))
    return path


def test_an_unknown_condition_operator_is_a_finding_and_never_proposed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", "--logs", str(SAMPLE / "cloudtrail"),
        "--iam", str(_iam_with_bogus_operators(tmp_path)),
        "--ecs", str(SAMPLE / "ecs/task-definitions.json"),
        "--trail", str(SAMPLE / "trail/event-selectors.json"),
        "--out", str(out), "--db", str(tmp_path / "s.duckdb"), "--json"])
    assert result.exit_code == 4, result.output
    assert "condition operator 'StringEqualsBogus' is not one IAM knows" in result.stderr
    assert "condition operator 'StringNotEqualsBogus' is not one IAM knows" in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    roles = {r["name"]: r for r in summary["roles"]}
    for name in ("payments-worker-task", "web-frontend-task"):
        codes = [f["code"] for f in roles[name]["findings"]]
        assert "POLICY_INVALID" in codes, (name, codes)
        assert roles[name]["policy_path"] is None
        assert not (out / "roles" / name).exists()
    # The other roles are rightsized as before, and nothing written holds the operator.
    assert roles["orders-api-task"]["policy_path"] == "roles/orders-api-task/policy.json"
    for path in out.glob("roles/*/*"):
        assert "Bogus" not in path.read_text(), path


def _lint(paths: list[Path]) -> list[str]:
    """parliament's findings on each policy document, but an action parliament's own (older)
    data does not know while the pinned IAM catalog does."""
    known = catalog()
    found = []
    for path in paths:
        for finding in parliament.analyze_policy_string(path.read_text()).findings:
            detail = str(finding.detail)
            if finding.issue == "UNKNOWN_ACTION":
                action = detail.removeprefix("Unknown action ").strip()
                if known.canonical(action) == action:
                    continue
            found.append(f"{path.parent.name}: {finding.issue} {detail}")
    return found


def test_parliament_finds_nothing_in_the_sample_proposals() -> None:
    policies = sorted(GOLDEN.glob("roles/*/policy.json"))
    assert len(policies) >= 8
    problems = _lint(policies)
    assert problems == [], "\n".join(problems)


def test_parliament_finds_nothing_in_a_simulated_accounts_proposals(tmp_path: Path) -> None:
    runner = CliRunner()
    sim = tmp_path / "sim"
    assert runner.invoke(main, ["simulate", str(sim), "--events", "6000", "--services", "20",
                                "--seed", "5"]).exit_code == 0
    out = tmp_path / "out"
    result = runner.invoke(main, [
        "run", "--logs", str(sim / "cloudtrail"),
        "--iam", str(sim / "iam/authorization-details.json"),
        "--ecs", str(sim / "ecs/task-definitions.json"),
        "--trail", str(sim / "trail/event-selectors.json"), "--out", str(out),
        "--db", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    policies = sorted(out.glob("roles/*/policy.json"))
    assert len(policies) >= 20
    problems = _lint(policies)
    assert problems == [], "\n".join(problems)


def test_the_linter_is_not_blind() -> None:
    """The check above can fail: parliament reports the operator this issue found copied."""
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
         "Condition": BOGUS}]}
    issues = {f.issue for f in parliament.analyze_policy_string(json.dumps(document)).findings}
    assert "UNKNOWN_OPERATOR" in issues
