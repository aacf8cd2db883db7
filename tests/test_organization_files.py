"""An organization in one run, from files: the IAM data and task definitions of several accounts
(a folder, one file per account, as `aws iam get-account-authorization-details` writes them) and
one organization trail. Roles are keyed by account everywhere: two accounts' roles of the same
name are two roles, with two proposals in two folders, and a call an organization trail
records in two accounts (the caller's and the resource owner's, with one sharedEventID) counts
once, on the role that made it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rightsizer.cli import main
from tests.organization import DATA, DAYS, SHOP, write_organization


@pytest.fixture(scope="module")
def organization(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_organization(tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="module")
def run_output(organization: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "run"
    db = out.parent / "org.duckdb"
    result = CliRunner().invoke(main, [
        "run", "--logs", str(organization / "cloudtrail"), "--iam", str(organization / "iam"),
        "--ecs", str(organization / "ecs"), "--db", str(db), "--out", str(out),
        "--trail", str(organization / "event-selectors.json"),
        "--workers", "1", "--since", "2026-10-01", "--until", "2026-10-31"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return out


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_roles_of_the_same_name_in_two_accounts_get_a_proposal_each(run_output: Path) -> None:
    shop = json.loads((run_output / "accounts" / SHOP / "roles" / "app-task" / "policy.json")
                      .read_text())
    data = json.loads((run_output / "accounts" / DATA / "roles" / "app-task" / "policy.json")
                      .read_text())

    def actions(policy: dict) -> set[str]:
        found: set[str] = set()
        for statement in policy["Statement"]:
            listed = statement["Action"]
            found.update([listed] if isinstance(listed, str) else listed)
        return found

    assert actions(shop) == {"s3:GetObject"}
    assert actions(data) == {"s3:GetObject", "s3:PutObject"}
    assert not (run_output / "roles").exists()
    roles = {(r["account"], r["name"]): r for r in _summary(run_output)["roles"]}
    assert set(roles) == {(SHOP, "app-task"), (DATA, "app-task")}
    assert roles[(SHOP, "app-task")]["policy_path"] == (
        f"accounts/{SHOP}/roles/app-task/policy.json")


def test_a_call_recorded_in_two_accounts_counts_once_on_the_caller(run_output: Path) -> None:
    roles = {(r["account"], r["name"]): r for r in _summary(run_output)["roles"]}
    verdicts = {v["action"]: v for v in roles[(SHOP, "app-task")]["verdicts"]}
    # Per day: 4 own GetObject calls and 4 on DATA's bucket, each recorded twice.
    assert verdicts["s3:GetObject"]["calls"] == DAYS * 8
    data_verdicts = {v["action"]: v for v in roles[(DATA, "app-task")]["verdicts"]}
    assert data_verdicts["s3:GetObject"]["calls"] == DAYS * 4


def test_the_summary_and_report_sum_up_the_organization(run_output: Path) -> None:
    accounts = {a["account"]: a for a in _summary(run_output)["organization"]["accounts"]}
    assert set(accounts) == {SHOP, DATA}
    assert accounts[SHOP]["roles"] == 1
    assert accounts[SHOP]["granted"] == 3 and accounts[SHOP]["proposed"] == 1
    assert accounts[DATA]["granted"] == 3 and accounts[DATA]["proposed"] == 2
    report = (run_output / "report.md").read_text()
    assert "## Organization" in report
    assert f"{SHOP}/app-task" in report and f"{DATA}/app-task" in report


def test_the_owners_copy_counts_when_the_callers_account_was_not_read(
        organization: Path, tmp_path: Path) -> None:
    """Only DATA's logs read: SHOP's calls on DATA's bucket are known from DATA's copies alone,
    and those are the evidence (dropping them could call a used action unused)."""
    from rightsizer.store.database import Store

    db = tmp_path / "data-only.duckdb"
    result = CliRunner().invoke(main, [
        "ingest", str(organization / "cloudtrail"), "--db", str(db), "--account", DATA,
        "--workers", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store(db, read_only=True) as store:
        rows = [r for r in store.usage(None, None) if r.principal.endswith("app-task")
                and r.principal.split(":")[4] == SHOP]
    assert sum(r.calls for r in rows) == DAYS * 4
    assert {r.account for r in rows} == {DATA}


def test_a_role_cloudtrail_saw_working_is_never_called_unused(run_output: Path) -> None:
    """The IAM files say RoleLastUsed {} (no use recorded since creation in 2024), as an IAM
    snapshot older than the logs would: CloudTrail saw the roles at work, so no ROLE_UNUSED
    (delete the role) finding, and the disagreement is said."""
    for role in _summary(run_output)["roles"]:
        assert "ROLE_UNUSED" not in {f["code"] for f in role["findings"]}
        assert any("RoleLastUsed" in note and "CloudTrail saw it at work on 31 days" in note
                   for note in role["notes"])


def test_a_simulated_organization_is_rightsized_in_one_run(tmp_path: Path) -> None:
    """`simulate --accounts 2`: two accounts with the same role names in one organization trail,
    IAM and ECS files one per account; one run rightsizes both, and the second witness keeps in
    each account what IAM saw used before the window."""
    import rightsizer

    sim = rightsizer.simulate_account(tmp_path / "org", accounts=2, events=3000, seed=5,
                                      events_per_file=40, digest_hours=24)
    assert len(sim.accounts) == 2 and sim.iam_path.is_dir() and sim.ecs_path.is_dir()
    assert sorted(p.stem for p in sim.iam_path.glob("*.json")) == sorted(sim.accounts)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", "--logs", str(sim.cloudtrail_dir), "--iam", str(sim.iam_path),
        "--ecs", str(sim.ecs_path), "--trail", str(sim.trail_path),
        "--public-keys", str(sim.public_keys_path), "--last-accessed",
        str(sim.last_accessed_path), "--db", str(tmp_path / "org.duckdb"), "--out", str(out),
        "--workers", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    summary = _summary(out)
    assert [a["account"] for a in summary["organization"]["accounts"]] == sorted(sim.accounts)
    by_account: dict[str, set[str]] = {}
    for role in summary["roles"]:
        by_account.setdefault(role["account"], set()).add(role["name"])
        if role["policy_path"]:
            assert role["policy_path"].startswith(f"accounts/{role['account']}/roles/")
            assert (out / role["policy_path"]).is_file()
    first, second = (by_account[a] for a in sim.accounts)
    assert "orders-api-task" in first & second  # one name, two roles
    reports = [r for r in summary["roles"] if r["name"] == "reports-batch-task"]
    assert len(reports) == 2
    assert all([k["action"] for k in r["kept_used_per_iam"]] == ["s3:PutLifecycleConfiguration"]
               for r in reports)


def test_the_next_run_names_what_changed_with_each_roles_account(
        organization: Path, tmp_path: Path) -> None:
    """Since the last run: DATA's app-task lost a grant; the change is DATA's, not SHOP's
    app-task's, and the rows and the report say so."""
    import shutil

    iam = tmp_path / "iam"
    shutil.copytree(organization / "iam", iam)
    db = tmp_path / "org.duckdb"

    def run(out: Path) -> dict:
        result = CliRunner().invoke(main, [
            "run", "--logs", str(organization / "cloudtrail"), "--iam", str(iam),
            "--ecs", str(organization / "ecs"), "--db", str(db), "--out", str(out),
            "--trail", str(organization / "event-selectors.json"), "--workers", "1",
            "--since", "2026-10-01", "--until", "2026-10-31"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return _summary(out)

    run(tmp_path / "first")
    data_file = iam / f"{DATA}.json"
    details = json.loads(data_file.read_text())
    statement = details["RoleDetailList"][0]["RolePolicyList"][0]["PolicyDocument"]["Statement"]
    statement[0]["Action"] = ["s3:GetObject", "s3:PutObject"]
    data_file.write_text(json.dumps(details))
    since = run(tmp_path / "second")["since_last_run"]
    (row,) = since["roles"]
    assert row["label"] == f"{DATA}/app-task"
    assert row["arn"] == f"arn:aws:iam::{DATA}:role/ecs/app-task"
    assert row["granted"] == [3, 2]
    assert f"{DATA}/app-task" in (tmp_path / "second" / "report.md").read_text().split(
        "## Since the last run")[1]
