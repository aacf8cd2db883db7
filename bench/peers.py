"""rightsizer and trailscraper on the same simulated account, in one run: time, memory, and what
each proposes for a role.

    .venv/bin/python bench/peers.py --events 100000 --services 20
    .venv/bin/python bench/peers.py --events 1000000 --services 50 --role orders-api-task

trailscraper (https://github.com/flosell/trailscraper, pinned with --trailscraper-version) is
installed by this script into a virtual environment of its own under bench/_data/ (pip, from
the package index). The account is simulated and cached as bench/run.py does. Then, each in a
child process whose tree's peak RSS is polled every 20 ms:

- rightsizer: `rightsizer run` over the logs, IAM and task definitions (ingest, analysis,
  proposals, proofs and reports for every ECS role) into a fresh store;
- trailscraper: for each --role, `trailscraper select --log-dir ... --filter-assumed-role-arn
  ROLE | trailscraper generate`: one pass over every log file per role, as it works.

It prints both tools' seconds and peak RSS and their ratios, and per role the actions only one
of them allows, with rightsizer's reason: trailscraper allows what was refused (AccessDenied
calls are events too) and leaves out what the logs cannot show (calls no trail records, needs
a task definition declares, what IAM saw used before the window).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from peak_rss import Measured
from run import account_dir, add_account_arguments, complete, paths, simulate

DATA = Path(__file__).parent / "_data"
ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

# rightsizer's verdicts that keep an action without a call in the window, in words.
KEPT = {
    "kept_unobservable": "no trail records it",
    "kept_required": "a task definition declares it",
    "kept_used_per_iam": "IAM saw it used before the window",
    "kept_insufficient_evidence": "the logs cannot prove it unused",
    "kept_unmapped": "unmapped calls of its service",
    "kept_excluded": "excluded by configuration",
}


def trailscraper(version: str) -> Path:
    """The trailscraper executable of its own virtual environment (made on first use)."""
    venv = DATA / f"trailscraper-{version}"
    exe = venv / "bin" / "trailscraper"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                        f"trailscraper=={version}"], check=True)
    return exe


def policy_actions(policy: Mapping[str, Any]) -> dict[str, str]:
    """The actions a policy document allows, by their lower-case form (IAM compares them
    ignoring case) as the document spells them."""
    found: dict[str, str] = {}
    statements = policy.get("Statement") or []
    for statement in [statements] if isinstance(statements, Mapping) else statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        for action in [actions] if isinstance(actions, str) else actions:
            found.setdefault(action.lower(), action)
    return found


def compare(role: Mapping[str, Any], trailscraper_policy: Mapping[str, Any]
            ) -> dict[str, list[tuple[str, str]]]:
    """What only trailscraper allows and what only rightsizer keeps, for one role of
    rightsizer's summary.json, each with rightsizer's reason."""
    ours = {a.lower(): a for a in role.get("proposed_actions") or ()}
    theirs = policy_actions(trailscraper_policy)
    denied = {a.lower() for a in role.get("denied_actions") or ()}
    why: dict[str, str] = {}
    for key, reason in KEPT.items():
        for kept in role.get(key) or ():
            why.setdefault(kept["action"].lower(), reason)
    for action in role.get("used_actions") or ():
        why.setdefault(action.lower(), "used in the window")
    only_theirs = [(theirs[a], "refused (AccessDenied): rightsizer reports it, never grants it"
                    if a in denied else "not granted to the role, or not proposed")
                   for a in sorted(set(theirs) - set(ours))]
    only_ours = [(ours[a], why.get(a, "kept")) for a in sorted(set(ours) - set(theirs))]
    return {"only_trailscraper": only_theirs, "only_rightsizer": only_ours}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_account_arguments(parser, events=100_000, services=20)
    parser.add_argument("--role", action="append",
                        help="a role to compare (repeatable; default web-frontend-task and "
                             "ecsTaskExecutionRole: refused calls, and needs the logs cannot "
                             "show)")
    parser.add_argument("--trailscraper-version", default="0.10.0")
    args = parser.parse_args()
    roles = args.role or ["web-frontend-task", "ecsTaskExecutionRole"]

    account = account_dir(args)
    if not complete(account):
        simulate(account, args)
    p = paths(account)
    exe = trailscraper(args.trailscraper_version)

    with tempfile.TemporaryDirectory(prefix="rightsizer-peers-") as scratch:
        work = Path(scratch)
        ours = Measured()
        ours.run([sys.executable, "-m", "rightsizer", "run", "--logs", str(p["cloudtrail"]),
                  "--iam", str(p["iam"]), "--ecs", str(p["ecs"]), "--trail", str(p["trail"]),
                  "--db", str(work / "store.duckdb"), "--out", str(work / "out"),
                  "--output", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                 cwd=ROOT)
        summary = json.loads((work / "out" / "summary.json").read_text())
        by_name = {r["name"]: r for r in summary["roles"]}
        window = summary["window"]
        theirs = Measured()
        policies: dict[str, dict[str, Any]] = {}
        for name in roles:
            role = by_name.get(name)
            if role is None:
                raise SystemExit(f"{name}: not an ECS role of the simulated account")
            selected = work / f"{name}.events.json"
            with selected.open("wb") as out:
                theirs.run([str(exe), "select", "--log-dir", str(p["cloudtrail"]),
                            "--filter-assumed-role-arn", role["arn"],
                            "--from", window["start"][:10], "--to", window["end"][:10]],
                           stdout=out, stderr=subprocess.DEVNULL)
            with selected.open("rb") as events:
                generated = theirs.run([str(exe), "generate"], stdin=events,
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            policies[name] = json.loads(generated.stdout or b"{}")

    events = summary["analysis_input"]["events"]
    print(f"input        {events:,} events, {len(summary['roles'])} ECS roles "
          f"({account.name})")
    print(f"rightsizer   {ours.seconds:8.2f} s  peak RSS {ours.peak / MIB:7.0f} MiB  "
          f"(ingest, analysis, proofs and reports for every role)")
    print(f"trailscraper {theirs.seconds:8.2f} s  peak RSS {theirs.peak / MIB:7.0f} MiB  "
          f"({len(roles)} role{'s' if len(roles) != 1 else ''}: select + generate, "
          f"{args.trailscraper_version})")
    print(f"ratio        time {theirs.seconds / ours.seconds:.1f}x, "
          f"memory {theirs.peak / max(ours.peak, 1):.1f}x (trailscraper / rightsizer)")
    per_role = theirs.seconds / len(roles)
    print(f"per role     trailscraper {per_role:.2f} s a role (a pass over every log file): "
          f"the {len(summary['roles'])} ECS roles would take about "
          f"{per_role * len(summary['roles']):.0f} s (extrapolated, not measured)")
    for name in roles:
        found = compare(by_name[name], policies[name])
        print(f"\n{name}: trailscraper allows {len(policy_actions(policies[name]))} actions, "
              f"rightsizer proposes {len(by_name[name]['proposed_actions'])}")
        for action, reason in found["only_trailscraper"]:
            print(f"  only trailscraper  {action:<40} {reason}")
        for action, reason in found["only_rightsizer"]:
            print(f"  only rightsizer    {action:<40} {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
