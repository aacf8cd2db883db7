"""The options people bring from the AWS CLI (issue 14): ``--region`` is the region of the API
calls on every command, the logs' regions are chosen with ``--log-region``, the old region flags
still work for one release and say what replaces them, and ``--output json|table|text`` prints
what the AWS CLI would (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-output-format.html)."""

from __future__ import annotations

import glob
import importlib.util
import io
import json
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsizer.cli import main
from rightsizer.cli_output import format_text

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_logs"
IAM = str(SAMPLE / "iam" / "authorization-details.json")
ECS = str(SAMPLE / "ecs" / "task-definitions.json")
# A delivery file of each region in the sample (the sample logs three regions).
US_EAST_1 = "us-east-1"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def _commands() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = command

    walk(main, "")
    return found


def _options(command: click.Command) -> set[str]:
    return {opt for p in command.params if isinstance(p, click.Option) and not p.hidden
            for opt in p.opts}


# The commands that call AWS (live IAM, ECS, CloudTrail, S3 logs, Athena).
AWS_COMMANDS = ("ingest", "inventory", "run", "athena setup", "new-role", "explain")


@pytest.mark.parametrize("name", AWS_COMMANDS)
def test_every_command_that_calls_aws_takes_the_aws_cli_options(name: str) -> None:
    assert {"--profile", "--region", "--endpoint-url"} <= _options(_commands()[name])


def test_every_command_with_json_output_takes_output() -> None:
    with_json = {name for name, c in _commands().items() if "--json" in _options(c)}
    assert with_json == {"ingest", "inventory", "run", "new-role", "explain"}
    for name in with_json:
        choice = next(p for p in _commands()[name].params if p.name == "output")
        assert list(choice.type.choices) == ["table", "json", "text"], name


def test_the_old_region_flags_are_gone_from_help_but_still_work() -> None:
    for name in ("ingest", "inventory", "run", "athena setup"):
        shown = _options(_commands()[name])
        assert not shown & {"--aws-region", "--s3-region", "--athena-region"}, name


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sample read twice: once with --region (the API region: every log still read), once
    with --log-region (only that region's logs)."""
    folder = tmp_path_factory.mktemp("regions")
    results = {}
    for flag in ("--region", "--log-region"):
        db = folder / f"{flag.strip('-')}.duckdb"
        result = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(db), flag, US_EAST_1,
                        "--workers", "1", "--json")
        assert result.exit_code == 0, result.stderr
        results[flag] = (json.loads(result.stdout), result.stderr, db)
    return results


def _regions_stored(db: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {r for (r,) in con.execute("SELECT DISTINCT aws_region FROM events").fetchall()}


def test_ingest_region_is_the_api_region_and_reads_every_regions_logs(
        ingested: dict[str, Any]) -> None:
    _summary, stderr, db = ingested["--region"]
    assert _regions_stored(db) == {"us-east-1", "eu-west-1", "ap-southeast-2"}
    # No client is set to it: the user probably meant the old filter, and is told so.
    assert "warning" in stderr and f"--log-region {US_EAST_1}" in stderr


def test_ingest_log_region_reads_only_that_regions_logs(ingested: dict[str, Any]) -> None:
    summary, stderr, db = ingested["--log-region"]
    assert _regions_stored(db) == {US_EAST_1}
    assert "warning" not in stderr
    assert summary["files_skipped"], "the other regions' files are skipped, and said so"


def test_two_regions_is_a_usage_error_that_points_at_log_region(tmp_path: Path) -> None:
    result = invoke("ingest", str(SAMPLE / "cloudtrail"), "--db", str(tmp_path / "x.duckdb"),
                    "--region", "us-east-1", "--region", "eu-west-1")
    assert result.exit_code == 2
    assert "--log-region" in result.stderr
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize(("args", "replacement"), [
    (["run", "--aws-region", "eu-west-1"], "--region"),
    (["run", "--athena-region", "eu-west-1"], "--region"),
])
def test_deprecated_region_flags_still_set_the_region_and_say_what_replaces_them(
        tmp_path: Path, args: list[str], replacement: str) -> None:
    result = invoke(*args, "--logs", str(SAMPLE / "cloudtrail"), "--iam", IAM, "--ecs", ECS,
                    "--db", str(tmp_path / "x.duckdb"), "--out", str(tmp_path / "out"),
                    "--workers", "1", "--json")
    assert result.exit_code == 0, result.stderr
    assert f"{args[1]} is deprecated" in result.stderr and replacement in result.stderr
    settings = json.loads(result.stdout)["settings"]
    key = "aws.region" if args[1] == "--aws-region" else "athena.region"
    assert settings[key] == {"value": "eu-west-1", "origin": "flag"}


def test_run_region_is_the_api_region(tmp_path: Path) -> None:
    result = invoke("run", "--region", "eu-west-1", "--ecs-region", "us-east-1",
                    "--ecs-region", "eu-west-1", "--logs", str(SAMPLE / "cloudtrail"),
                    "--iam", IAM, "--ecs", ECS, "--db", str(tmp_path / "x.duckdb"), "--out",
                    str(tmp_path / "out"), "--workers", "1", "--json")
    assert result.exit_code == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["aws.region"] == {"value": "eu-west-1", "origin": "flag"}
    assert settings["aws.ecs_regions"]["value"] == ["us-east-1", "eu-west-1"]
    assert "warning" not in result.stderr


def test_athena_setup_log_region_lists_the_trails_regions() -> None:
    result = invoke("athena", "setup", "--table", "athena://trail.events", "--bucket", "trail-logs",
                    "--account", "123456789012", "--log-region", "eu-west-1",
                    "--log-region", "us-east-1")
    assert result.exit_code == 0, result.stderr
    assert "'eu-west-1,us-east-1'" in result.stdout


def test_athena_setup_region_alone_is_not_the_trails_regions() -> None:
    result = invoke("athena", "setup", "--table", "athena://trail.events", "--bucket", "trail-logs",
                    "--account", "123456789012", "--region", "eu-west-1")
    assert result.exit_code == 2
    assert "--log-region" in result.stderr


# -- --output --------------------------------------------------------------------------------


def test_output_json_is_the_json_flag(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    first = invoke("inventory", "--iam", IAM, "--ecs", ECS, "--db", str(db), "--json")
    second = invoke("inventory", "--iam", IAM, "--ecs", ECS, "--db", str(db), "--output", "json")
    assert first.exit_code == second.exit_code == 0
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_json_and_another_output_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("inventory", "--iam", IAM, "--ecs", ECS, "--db", str(tmp_path / "x.duckdb"),
                    "--json", "--output", "text")
    assert result.exit_code == 2
    assert "--json" in result.stderr and "--output" in result.stderr


def test_output_text_is_tab_separated_for_grep_and_awk(tmp_path: Path) -> None:
    result = invoke("inventory", "--iam", IAM, "--ecs", ECS, "--db", str(tmp_path / "x.duckdb"),
                    "--output", "text")
    assert result.exit_code == 0, result.stderr
    as_json = json.loads(invoke("inventory", "--iam", IAM, "--ecs", ECS, "--db",
                                str(tmp_path / "x.duckdb"), "--json").stdout)
    assert result.stdout == format_text(as_json)
    # One ROLES line per role, its name a column of its own.
    role_lines = [line.split("\t") for line in result.stdout.splitlines()
                  if line.startswith("ROLES\t")]
    assert len(role_lines) == len(as_json["roles"])
    names = {role["name"] for role in as_json["roles"]}
    assert all(names & set(line) for line in role_lines)


def test_output_text_escapes_what_would_break_a_line_or_a_column() -> None:
    text = format_text({"roles": [{"name": "a\tb\nc\x1b[2J"}]})
    assert text == "ROLES\ta\\x09b\\x0ac\\x1b[2J\n"


def _awscli_text() -> Any:
    """The AWS CLI's own text formatter (awscli/text.py), where the AWS CLI v1 is installed."""
    places = []
    aws = shutil.which("aws")
    if aws:
        places += glob.glob(str(Path(aws).resolve().parents[1] / "lib/python3*/site-packages"))
    places += glob.glob(str(Path.home() / ".pyenv/versions/*/lib/python3*/site-packages"))
    for place in places:
        path = Path(place) / "awscli" / "text.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("awscli_text", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    pytest.skip("the AWS CLI v1 (awscli/text.py) is not installed")


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.text("abcxyz-_:/ 0123", max_size=8))
_keys = st.text("abcdefgh_", min_size=1, max_size=6)
# Lists of one kind, as AWS's APIs (and rightsizer's JSON) hold: the AWS CLI fails on a list
# that mixes scalars and objects.
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(_scalars, max_size=4), st.lists(st.lists(_scalars, max_size=3), max_size=3),
    st.lists(st.dictionaries(_keys, inner, max_size=4), max_size=4),
    st.dictionaries(_keys, inner, max_size=4)), max_leaves=20)


@given(data=st.dictionaries(_keys, _json, max_size=5))
@settings(max_examples=300, deadline=None)
def test_output_text_is_what_the_aws_cli_prints(data: dict[str, Any]) -> None:
    awscli = _awscli_text()
    stream = io.StringIO()
    awscli.format_text(data, stream)
    assert format_text(data) == stream.getvalue()


@pytest.mark.parametrize("args", [
    ["ingest", str(SAMPLE / "cloudtrail"), "--s3-region", "us-east-1", "--workers", "1"],
    ["inventory", "--iam", IAM, "--ecs", ECS, "--aws-region", "us-east-1", "--aws-region",
     "eu-west-1"],
])
def test_deprecated_flags_of_ingest_and_inventory_still_work(tmp_path: Path,
                                                            args: list[str]) -> None:
    result = invoke(*args, "--db", str(tmp_path / "x.duckdb"))
    assert result.exit_code == 0, result.stderr
    flag = next(a for a in args if a in ("--s3-region", "--aws-region"))
    assert f"warning: {flag} is deprecated and goes in 0.3.0: use --region" in result.stderr
