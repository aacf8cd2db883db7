"""The only composer: sources -> store -> iam / analysis -> proposal -> report.

- ``ingest``: CloudTrail from files, S3 and Athena into the store (``ingest.py``);
- ``inventory``: IAM and ECS, files or live, into the classified roles (``inventory.py``);
- ``run``: every stage for every ECS role, in one pass over the store (``analyze.py``), written
  as the output folder and its reports (``write.py``);
- ``explain_failures``: why ECS roles' calls were refused and tasks stopped, and the fix
  (``explain.py``);
- ``new_roles``: roles for services with no history, in four forms (``new_role.py``);
- ``run_job``: ``run`` from layered settings, as a scheduled job, and ``athena_setup``
  (``job.py``).
"""

from rightsizer.pipeline.analyze import RunResult, run
from rightsizer.pipeline.explain import ExplainResult, explain_failures
from rightsizer.pipeline.ingest import AthenaQueryReport, IngestSummary, PathReason, ingest
from rightsizer.pipeline.inventory import LIVE, inventory
from rightsizer.pipeline.job import AthenaSetup, athena_setup, run_job
from rightsizer.pipeline.new_role import NewRoleResult, new_roles
from rightsizer.pipeline.write import SCHEMA_VERSION, render_reports

__all__ = [
    "LIVE",
    "SCHEMA_VERSION",
    "AthenaQueryReport",
    "AthenaSetup",
    "ExplainResult",
    "IngestSummary",
    "NewRoleResult",
    "PathReason",
    "RunResult",
    "athena_setup",
    "explain_failures",
    "ingest",
    "inventory",
    "new_roles",
    "render_reports",
    "run",
    "run_job",
]
