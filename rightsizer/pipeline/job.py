"""The batch job: settings in, a dated output folder out; and ``athena setup``."""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rightsizer.errors import ConfigError
from rightsizer.pipeline.analyze import RunResult, run
from rightsizer.pipeline.stages import Progress
from rightsizer.sources import athena
from rightsizer.sources.athena import AthenaOptions
from rightsizer.sources.aws import AwsOptions
from rightsizer.sources.s3 import S3Options

if TYPE_CHECKING:
    from rightsizer.settings import Settings

log = logging.getLogger(__name__)

# A dated run folder: FOLDER/2026-11-28T2103Z (UTC), a suffix when two runs share a minute.
_RUN_STAMP = "%Y-%m-%dT%H%MZ"
_RUN_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{4}Z(-\d+)?$")  # see _run_order
LATEST = "latest"


def run_job(settings: Settings, *, now: datetime | None = None,
            progress: Progress | None = None) -> RunResult:
    """``rightsizer run`` as a scheduled job: everything from ``settings`` (sources, window,
    store, output, thresholds). With ``output.dated`` the run writes ``FOLDER/<UTC stamp>/``,
    then points ``FOLDER/latest`` at it (only once it is complete) and removes the oldest
    dated runs beyond ``output.keep``. Incremental: the store's ledger skips files already
    read, and Athena re-reads only days that had not settled."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    sources = settings.sources
    for name, value in (("iam", sources.iam), ("ecs", sources.ecs)):
        if not value:
            raise ConfigError(f"sources.{name} is not set: give --{name} FILE|aws, "
                              f"RIGHTSIZER_SOURCES_{name.upper()} or [sources] {name} = ... "
                              "in the configuration file")
    logs = (*sources.logs, *sources.athena)
    since = until = None
    window = settings.window
    explicit = any(settings.origins.get(f"window.{k}", "default") != "default"
                   for k in ("days", "since", "until"))
    if explicit:  # else: the store's first to last event, as an ad hoc run
        first, last = settings.window_bounds(now.date())
        since = datetime(first.year, first.month, first.day)
        until = datetime(last.year, last.month, last.day)
    elif sources.athena:  # Athena needs a window: the default trailing days
        first, last = window.bounds(now.date())
        since = datetime(first.year, first.month, first.day)
    aws = AwsOptions(profile=settings.aws.profile, region=settings.aws.region,
                     endpoint_url=settings.aws.endpoint_url)
    s3_options = S3Options(profile=settings.aws.profile, endpoint_url=settings.aws.endpoint_url)
    athena_options = AthenaOptions(
        workgroup=settings.athena.workgroup, output_location=settings.athena.output_location,
        region=settings.athena_region, profile=settings.aws.profile,
        endpoint_url=settings.aws.endpoint_url, price_per_tb=settings.athena.price_per_tb,
        concurrency=settings.athena.concurrency)
    arguments = {
        "logs": logs, "iam": sources.iam, "ecs": sources.ecs, "db": settings.store.path,
        "since": since, "until": until, "settings": settings, "trail_files": sources.trail,
        "aws": aws, "s3_options": s3_options, "athena": athena_options,
        "athena_accounts": settings.athena.accounts, "principals": settings.athena.principals,
        "today": now.date(), "workers": settings.run.workers, "pdf": settings.run.pdf,
        "progress": progress,
    }
    folder = Path(settings.output.folder)
    if not settings.output.dated:
        return run(out=folder, **arguments)
    # A dated run is written to a hidden staging folder and gets its name only once complete:
    # a run that fails half-way never shows as a run, never counts towards `keep`.
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{now.strftime(_RUN_STAMP)}.{os.getpid()}.partial"
    try:
        result = run(out=staging, **arguments)
        out = _name_run_folder(folder, staging, now)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    latest = _publish_latest(folder, out)
    removed = _prune_runs(folder, keep=settings.output.keep, current=out)
    return replace(result, out=out, latest=latest, removed=removed)


def _name_run_folder(folder: Path, staging: Path, now: datetime) -> Path:
    """Rename the staging folder to the run's stamp (a suffix when the minute is taken).
    ``mkdir`` reserves the name atomically; the rename then replaces that empty folder."""
    stamp = now.strftime(_RUN_STAMP)
    candidate, n = folder / stamp, 1
    while True:
        try:
            candidate.mkdir()
            break
        except FileExistsError:
            candidate, n = folder / f"{stamp}-{n}", n + 1
    staging.rename(candidate)
    return candidate


def _publish_latest(folder: Path, run_folder: Path) -> Path:
    """Point ``folder/latest`` at ``run_folder`` atomically: a reader sees the old run or the
    new one, never neither (a relative link, so the folder can be moved or mounted)."""
    latest = folder / LATEST
    if latest.exists() and not latest.is_symlink():
        raise ConfigError(f"{latest} exists and is not a link: move it away; rightsizer points "
                          "it at the newest run")
    staging = folder / f".{LATEST}.{os.getpid()}"
    staging.unlink(missing_ok=True)
    os.symlink(run_folder.name, staging)
    os.replace(staging, latest)
    return latest


def _prune_runs(folder: Path, *, keep: int, current: Path) -> tuple[Path, ...]:
    """Remove the oldest dated runs beyond ``keep`` (0 keeps all); never the current one."""
    if keep <= 0:
        return ()
    runs = sorted((p for p in folder.iterdir()
                   if p.is_dir() and not p.is_symlink() and _RUN_FOLDER.match(p.name)),
                  key=_run_order)
    removed = tuple(p for p in runs[:-keep] if p != current)
    for path in removed:
        shutil.rmtree(path)
        log.info("removed the old run %s (output.keep = %d)", path, keep)
    return removed


def _run_order(path: Path) -> tuple[str, int]:
    """Runs in the order they were made: by stamp, then by the suffix of a shared minute
    (``-10`` after ``-9``)."""
    stamp, _, number = path.name.partition("Z")
    return stamp, int(number[1:]) if number else 0


# -- athena setup --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AthenaSetup:
    """The statements ``rightsizer athena setup`` prints, and the queries that ran them."""

    table: str
    statements: tuple[str, ...]
    applied: tuple[str, ...] = ()  # query ids, with apply


def athena_setup(settings: Settings, *, apply: bool = False) -> AthenaSetup:
    """The database and table DDL for ``sources.athena`` (the first one) from the ``athena``
    settings; with ``apply`` it runs them in the workgroup."""
    if not settings.sources.athena:
        raise ConfigError("athena setup: name the table (--table athena://DATABASE.TABLE, "
                          "RIGHTSIZER_SOURCES_ATHENA or [sources] athena)")
    table = athena.parse_athena_uri(settings.sources.athena[0])
    conf = settings.athena
    organization = conf.layout == "organization"
    if organization and not conf.organization_id:
        raise ConfigError("athena setup: an organization trail needs athena.organization_id "
                          "(--organization-id o-...)")
    if not conf.bucket:
        raise ConfigError("athena setup: give the trail's bucket (athena.bucket, --bucket)")
    layout = athena.TableLayout(
        database=table.database, table=table.table, bucket=conf.bucket, prefix=conf.prefix,
        regions=conf.regions, accounts=conf.accounts,
        organization_id=conf.organization_id if organization else None,
        projection_start=conf.projection_start or date(2020, 1, 1))
    statements = (f"CREATE DATABASE IF NOT EXISTS `{table.database}`", athena.table_ddl(layout))
    if not apply:
        return AthenaSetup(table.uri, statements)
    options = AthenaOptions(workgroup=conf.workgroup, output_location=conf.output_location,
                            region=settings.athena_region, profile=settings.aws.profile,
                            endpoint_url=settings.aws.endpoint_url)
    stats = athena.run_ddl(statements, options, f"athena setup {table.uri}")
    return AthenaSetup(table.uri, statements, tuple(s.query_id for s in stats))
