"""rightsizer: least-privilege IAM for ECS task and execution roles, from CloudTrail.

The public API. The CLI, the batch job and the notebooks call these and add nothing but
argument handling and printing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "IngestSummary",
    "Inventory",
    "InventoryRole",
    "Scope",
    "SimulationResult",
    "Store",
    "__version__",
    "ingest",
    "inventory",
    "simulate_account",
]

if TYPE_CHECKING:
    from rightsizer.analysis.inventory import Inventory, InventoryRole
    from rightsizer.pipeline import IngestSummary, ingest, inventory
    from rightsizer.simulate import SimulationResult, simulate_account
    from rightsizer.sources.locate import Scope
    from rightsizer.store.database import Store

# Imported on first use, so that `import rightsizer` and `rightsizer --help` stay fast and
# worker processes do not load DuckDB or pandas they never touch.
_LAZY = {
    "IngestSummary": "rightsizer.pipeline",
    "ingest": "rightsizer.pipeline",
    "inventory": "rightsizer.pipeline",
    "Inventory": "rightsizer.analysis.inventory",
    "InventoryRole": "rightsizer.analysis.inventory",
    "SimulationResult": "rightsizer.simulate",
    "simulate_account": "rightsizer.simulate",
    "Scope": "rightsizer.sources.locate",
    "Store": "rightsizer.store.database",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rightsizer' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
