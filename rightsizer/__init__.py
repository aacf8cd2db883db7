"""rightsizer: least-privilege IAM for ECS task and execution roles, from CloudTrail.

The public API. The CLI, the batch job and the notebooks call these and add nothing but
argument handling and printing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = [
    "AthenaOptions",
    "Call",
    "Decision",
    "ExplainResult",
    "Finding",
    "IngestSummary",
    "Inventory",
    "InventoryRole",
    "NewRole",
    "NewRoleResult",
    "Policy",
    "Request",
    "RunResult",
    "Scope",
    "Settings",
    "Severity",
    "SimulationResult",
    "Store",
    "TrailSettings",
    "__version__",
    "athena_setup",
    "catalog",
    "changes_frame",
    "charts",
    "derive_resources",
    "evaluate",
    "event_actions",
    "explain_failures",
    "failures_frame",
    "findings_frame",
    "grants_frame",
    "ingest",
    "inventory",
    "inventory_frame",
    "load_settings",
    "new_roles",
    "new_roles_frame",
    "observability",
    "parse_policy",
    "proposals_frame",
    "render_reports",
    "replay_frame",
    "run",
    "run_job",
    "simulate_account",
    "usage_frame",
    "verdicts_frame",
]

if TYPE_CHECKING:
    from rightsizer.analysis.findings import Finding, Severity
    from rightsizer.analysis.inventory import Inventory, InventoryRole
    from rightsizer.frames import (
        changes_frame,
        failures_frame,
        findings_frame,
        grants_frame,
        inventory_frame,
        new_roles_frame,
        proposals_frame,
        replay_frame,
        usage_frame,
        verdicts_frame,
    )
    from rightsizer.iam.actions import event_actions
    from rightsizer.iam.catalog import catalog
    from rightsizer.iam.evaluate import Decision, Request, evaluate
    from rightsizer.iam.observability import TrailSettings, observability
    from rightsizer.iam.policy import Policy, parse_policy
    from rightsizer.iam.resources import Call, derive_resources
    from rightsizer.pipeline import (
        ExplainResult,
        IngestSummary,
        NewRoleResult,
        RunResult,
        athena_setup,
        explain_failures,
        ingest,
        inventory,
        new_roles,
        render_reports,
        run,
        run_job,
    )
    from rightsizer.proposal.new_role import NewRole
    from rightsizer.settings import Settings, load_settings
    from rightsizer.simulate import SimulationResult, simulate_account
    from rightsizer.sources.athena import AthenaOptions
    from rightsizer.sources.locate import Scope
    from rightsizer.store.database import Store

# Imported on first use, so that `import rightsizer` and `rightsizer --help` stay fast and
# worker processes do not load DuckDB or pandas they never touch.
_LAZY = {
    "replay_frame": "rightsizer.frames",
    "inventory_frame": "rightsizer.frames",
    "findings_frame": "rightsizer.frames",
    "failures_frame": "rightsizer.frames",
    "changes_frame": "rightsizer.frames",
    "new_roles_frame": "rightsizer.frames",
    "Finding": "rightsizer.analysis.findings",
    "Severity": "rightsizer.analysis.findings",
    "Inventory": "rightsizer.analysis.inventory",
    "InventoryRole": "rightsizer.analysis.inventory",
    "event_actions": "rightsizer.iam.actions",
    "catalog": "rightsizer.iam.catalog",
    "Decision": "rightsizer.iam.evaluate",
    "Request": "rightsizer.iam.evaluate",
    "evaluate": "rightsizer.iam.evaluate",
    "TrailSettings": "rightsizer.iam.observability",
    "observability": "rightsizer.iam.observability",
    "Policy": "rightsizer.iam.policy",
    "parse_policy": "rightsizer.iam.policy",
    "Call": "rightsizer.iam.resources",
    "derive_resources": "rightsizer.iam.resources",
    "IngestSummary": "rightsizer.pipeline",
    "ingest": "rightsizer.pipeline",
    "inventory": "rightsizer.pipeline",
    "proposals_frame": "rightsizer.frames",
    "verdicts_frame": "rightsizer.frames",
    "grants_frame": "rightsizer.frames",
    "usage_frame": "rightsizer.frames",
    "run": "rightsizer.pipeline",
    "new_roles": "rightsizer.pipeline",
    "explain_failures": "rightsizer.pipeline",
    "ExplainResult": "rightsizer.pipeline",
    "NewRoleResult": "rightsizer.pipeline",
    "NewRole": "rightsizer.proposal.new_role",
    "run_job": "rightsizer.pipeline",
    "athena_setup": "rightsizer.pipeline",
    "load_settings": "rightsizer.settings",
    "Settings": "rightsizer.settings",
    "AthenaOptions": "rightsizer.sources.athena",
    "render_reports": "rightsizer.pipeline",
    "RunResult": "rightsizer.pipeline",
    "SimulationResult": "rightsizer.simulate",
    "simulate_account": "rightsizer.simulate",
    "Scope": "rightsizer.sources.locate",
    "Store": "rightsizer.store.database",
}


# Modules of the public API: ``rightsizer.charts`` draws the report's charts as matplotlib
# Figures from a summary (for notebooks).
_LAZY_MODULES = {"charts": "rightsizer.report.charts"}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rightsizer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
