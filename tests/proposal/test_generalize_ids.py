"""Per-session ids inside names (issue 11, case 3): whatever changes per task or request is a
wildcard in its place, wherever in a key it stands; what names a resource never changes.

The property test draws keys from the simulator's own key templates: a proposal generalized from
what was seen must allow a fresh id in the same place tomorrow, and must still refuse a key whose
fixed part differs.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.iam.patterns import matches
from rightsizer.proposal.generalize import explain_generalization, generalize_resources
from rightsizer.simulate import ids
from rightsizer.simulate.traffic_ecs import S3_KEYS

BUCKET = "arn:aws:s3:::acme-data-lake/"
TASK = "4d4a86d29c0b4f1e8a7b6c5d4e3f2a1b"


@pytest.mark.parametrize(("seen", "expected", "rule"), [
    # The sample's reports-batch-task: the hex head of the task id inside a file name.
    ([f"{BUCKET}reports/daily/2026-10-04/summary-4d4a86d2.csv",
      f"{BUCKET}reports/daily/2026-10-05/summary-4e3a5d31.csv"],
     [f"{BUCKET}reports/daily/*/summary-*.csv"], "hex id, date"),
    # One observation is enough when the part is shaped like an id.
    ([f"{BUCKET}assets/js/app.9f3c21ab.js"], [f"{BUCKET}assets/js/app.*.js"], "hex id"),
    ([f"{BUCKET}exports/01HZX3M6Q8R2V9K5T7N4B1C0DE.json"], [f"{BUCKET}exports/*.json"], "ulid"),
    ([f"{BUCKET}uploads/Zk9pQ2xvdWRUcmFpbElk.bin"], [f"{BUCKET}uploads/*.bin"], "random id"),
    ([f"{BUCKET}raw/part-00012.snappy.parquet"], [f"{BUCKET}raw/part-*.snappy.parquet"],
     "counter"),
    ([f"{BUCKET}img/logo-3.png"], [f"{BUCKET}img/logo-*.png"], "counter"),
    ([f"{BUCKET}runs/1730419200123/out.json"], [f"{BUCKET}runs/*/out.json"], "number"),
    ([f"{BUCKET}runs/20261104T120000Z/out.json"], [f"{BUCKET}runs/*/out.json"], "date"),
    # Two observations that differ only in one part of a name: that part varies.
    ([f"{BUCKET}jobs/result-alpha.json", f"{BUCKET}jobs/result-omega.json"],
     [f"{BUCKET}jobs/result-*.json"], "varies (2 values)"),
])
def test_ids_anywhere_in_a_key_become_wildcards(seen: list[str], expected: list[str],
                                                rule: str) -> None:
    (found,) = explain_generalization(seen)
    assert [found.pattern] == expected
    assert found.rule == rule
    assert found.covers == tuple(sorted(seen))


def test_eight_hex_letters_are_an_id() -> None:
    # Found by the property below (seed 605): summary-fdebddeb.csv, an id without a digit, was
    # named exactly from one observation, and the next object's key would have been refused.
    [pattern] = generalize_resources([f"{BUCKET}reports/daily/2026-11-02/summary-fdebddeb.csv"])
    assert matches(pattern, f"{BUCKET}reports/daily/2026-11-03/summary-8fc5ce5c.csv",
                   ignore_case=False)


@pytest.mark.parametrize("arn", [
    f"{BUCKET}config/app.json",  # words, not ids: a plain name stays
    f"{BUCKET}models/v2/weights.bin",
    f"{BUCKET}static/defaced/facade.css",  # short words in hex letters only: names
    f"{BUCKET}ec2/inventory.csv",
    "arn:aws:dynamodb:us-east-1:111122223333:table/orders-2024",  # a table name is a name
    "arn:aws:sqs:us-east-1:111122223333:jobs-4d4a86d2",
    "arn:aws:kms:us-east-1:111122223333:key/4d4a86d2-9c0b-4f1e-8a7b-6c5d4e3f2a1b",
    "arn:aws:ecr:us-east-1:111122223333:repository/team/app-1234567",
])
def test_fixed_names_never_change(arn: str) -> None:
    assert generalize_resources([arn]) == (arn,)


TEMPLATES = sorted(name for name in S3_KEYS if name != "none")


class _Task:
    """What a key template reads of a task: its id, service and a counter."""

    def __init__(self, rng: random.Random) -> None:
        self.task_id = ids.hex_id(rng, 32)
        self.counter = rng.randrange(1, 10**5)


def _keys(template: str, rng: random.Random, n: int, op: str) -> list[str]:
    keys = []
    for _ in range(n):
        day = f"2026-{rng.randrange(9, 12):02d}-{rng.randrange(1, 29):02d}"
        keys.append(S3_KEYS[template](rng, _Task(rng), f"{day}T10:00:00Z", op))  # type: ignore[arg-type]
    return keys


def _variant(key: str) -> str:
    """Which of a template's shapes a key has (the assets template picks one of four): the key
    with its ids and numbers blotted out."""
    return re.sub(r"[0-9a-f]{6,}|\d+", "#", key)


def _mutations(key: str) -> list[str]:
    """Keys whose fixed part differs: the first folder and the first word renamed."""
    first, _, rest = key.partition("/")
    out = [f"{first}-other/{rest}", f"x{key}"]
    letters = next((i for i, c in enumerate(key) if c.isalpha()), None)
    if letters is not None:
        out.append(key[:letters] + "Q" + key[letters + 1:])
    return out


@settings(max_examples=60, deadline=None)
@given(template=st.sampled_from(TEMPLATES), seed=st.integers(0, 10**6),
       seen=st.integers(1, 6), op=st.sampled_from(["get", "put"]))
def test_a_fresh_id_in_the_same_place_is_allowed_and_a_fixed_name_is_not(
        template: str, seed: int, seen: int, op: str) -> None:
    rng = ids.Rng(seed)
    observed = [BUCKET + k for k in _keys(template, rng, seen, op)]
    patterns = generalize_resources(observed)
    for arn in observed:
        assert any(matches(p, arn, ignore_case=False) for p in patterns), (arn, patterns)
    shapes = {_variant(arn.removeprefix(BUCKET)) for arn in observed}
    for fresh in _keys(template, ids.Rng(seed + 1), 20, op):
        if _variant(fresh) not in shapes:
            continue  # another shape of the template, never seen: not the same place
        assert any(matches(p, BUCKET + fresh, ignore_case=False) for p in patterns), (
            fresh, patterns)
    for arn in observed:
        key = arn.removeprefix(BUCKET)
        for other in _mutations(key):
            assert not any(matches(p, BUCKET + other, ignore_case=False) for p in patterns), (
                other, patterns)
        assert not any(matches(p, "arn:aws:s3:::another-bucket/" + key, ignore_case=False)
                       for p in patterns)
