"""Issue 12, case 1: ``run`` must never delete a path it did not write in its own folder. A task
definition naming a role ``..`` (absent from the IAM data, so it gets no proposal) made the
second run remove everything in OUT, unrelated files included."""

from __future__ import annotations

import json
from pathlib import Path

import rightsizer

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
