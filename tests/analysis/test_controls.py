"""Compliance references (issue 15): findings name the controls they bear on, from a cited table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rightsizer.analysis.controls import controls_for, report_controls
from rightsizer.analysis.findings import CODES, Finding

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sample"


@pytest.mark.parametrize(("code", "expected"), [
    ("ADMIN_LIKE_GRANT", {"PCI DSS v4.0.1 7.2.5", "ISO/IEC 27001:2022 Annex A 8.2",
                          "CIS AWS Foundations Benchmark v5.0.0 1.15",
                          "SOC 2 (Trust Services Criteria 2017) CC6.3"}),
    ("ROLE_NOT_SEEN", {"PCI DSS v4.0.1 7.2.5.1", "ISO/IEC 27001:2022 Annex A 5.18"}),
    ("TRUST_ANYONE", {"ISO/IEC 27001:2022 Annex A 5.15",
                      "HIPAA Security Rule 45 CFR 164.312(a)(1)"}),
    ("DELIVERY_GAP", set()),  # evidence, not access: no control claimed
])
def test_findings_name_the_controls_they_bear_on(code: str, expected: set[str]) -> None:
    assert {c.label for c in controls_for(code)} == expected
    found = Finding.of(code, "m").as_json()
    assert set(found.get("controls", [])) == expected


def test_every_mapping_cites_its_source_and_names_a_real_finding() -> None:
    codes = [c for c in CODES if controls_for(c)]
    assert codes
    for code in codes:
        for control in controls_for(code):
            assert control.source.startswith("https://") and control.title
    assert {c.control for c in report_controls()} >= {"7.2.5", "7.2.5.1"}


def test_the_summary_lists_the_controls_with_the_findings_behind_them() -> None:
    summary = json.loads((GOLDEN / "summary.json").read_text())
    by_label = {f"{c['framework']} {c['control']}": c for c in summary["compliance"]}
    assert "ADMIN_LIKE_GRANT" in by_label["PCI DSS v4.0.1 7.2.5"]["findings"]
    assert all(c["source"].startswith("https://") for c in summary["compliance"])
    codes = {f["code"] for r in summary["roles"] for f in r["findings"]}
    claimed = {code for c in summary["compliance"] for code in c["findings"]}
    assert claimed <= codes
