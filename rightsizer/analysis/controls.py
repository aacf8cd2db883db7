"""The compliance controls each finding bears on, from a cited data table
(``data/controls.csv``): least privilege, access control and access review in PCI DSS v4.0.1,
ISO/IEC 27001:2022 Annex A, SOC 2, the HIPAA Security Rule and the CIS AWS Foundations
Benchmark. A mapping is in the table only where the cited document supports it; every row names
its source. Pure: the table is read from the package."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rightsizer.analysis.findings import CODES

__all__ = ["Control", "controls_for", "report_controls"]

REPORT = "*"  # the rows that bear on the report as a whole: a periodic access review


@dataclass(frozen=True, slots=True)
class Control:
    framework: str
    control: str
    title: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.framework} {self.control}"

    def as_json(self) -> dict[str, str]:
        return {"framework": self.framework, "control": self.control, "title": self.title,
                "source": self.source}


@cache
def _table() -> dict[str, tuple[Control, ...]]:
    text = (resources.files("rightsizer.analysis") / "data" / "controls.csv").read_text(
        encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    found: dict[str, list[Control]] = {}
    for row in rows:
        code = row["finding"]
        if code != REPORT and code not in CODES:
            raise ValueError(f"controls.csv: unknown finding code {code!r}")
        if not row["source"].startswith("https://"):
            raise ValueError(f"controls.csv: {code} {row['control']}: no source")
        found.setdefault(code, []).append(
            Control(row["framework"], row["control"], row["title"], row["source"]))
    return {code: tuple(controls) for code, controls in found.items()}


def controls_for(code: str) -> tuple[Control, ...]:
    """The controls a finding bears on (none for most)."""
    return _table().get(code, ())


def report_controls() -> tuple[Control, ...]:
    """The controls the report as a whole is evidence for: a periodic review of the roles'
    privileges, and what the proposals remove."""
    return _table().get(REPORT, ())
