"""Settings: defaults < TOML file < environment < flags, validated once, origins recorded."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rightsizer.settings as settings_module
from rightsizer.analysis.findings import Severity
from rightsizer.analysis.verdicts import Exclusion
from rightsizer.errors import ConfigError
from rightsizer.settings import (
    SETTING_KEYS,
    Settings,
    WindowSettings,
    env_variables,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "rightsizer.toml"


def write(tmp_path: Path, text: str, name: str = "rightsizer.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path | None = None, text: str | None = None, **kwargs: Any) -> str:
    path = write(tmp_path, text) if tmp_path is not None and text is not None else None
    with pytest.raises(ConfigError) as info:
        load_settings(path, **kwargs)
    return str(info.value)


# -- defaults and layering ------------------------------------------------------------------------


def test_defaults() -> None:
    s = load_settings()
    assert s == load_settings(None, env={}, flags={})
    assert s.min_window_days == 30.0 and s.fail_on is Severity.HIGH
    assert s.exclusions == () and s.trails == () and s.source == "defaults" and s.notes == ()
    assert (s.sources.logs, s.sources.athena, s.sources.iam, s.sources.ecs, s.sources.trail) == (
        (), (), None, None, ())
    assert (s.aws.profile, s.aws.region, s.aws.endpoint_url) == (None, None, None)
    a = s.athena
    assert (a.workgroup, a.output_location, a.region, a.price_per_tb, a.bucket, a.prefix,
            a.layout, a.organization_id, a.accounts, a.regions, a.projection_start,
            a.principals) == ("primary", None, None, 5.0, None, "", "account", None, (), (),
                              None, ())
    assert (s.window.days, s.window.since, s.window.until) == (90, None, None)
    assert s.store.path == "rightsizer.duckdb"
    assert (s.output.folder, s.output.dated, s.output.keep) == ("out", False, 0)
    assert (s.run.workers, s.run.pdf, s.run.fail_on_findings) == (None, False, False)
    assert (s.logging.format, s.logging.level) == ("text", "warning")
    assert set(s.origins.values()) == {"default"}
    assert set(s.origins) == {k.dotted for k in SETTING_KEYS} | {"exclusions", "trails"}
    # Settings() and the loaded defaults are the same object.
    assert Settings() == s


def test_the_table_defaults_are_the_dataclass_defaults() -> None:
    s = Settings()
    for key in SETTING_KEYS:
        assert s.value(key.dotted) == key.default, key.dotted


def test_env_var_names_are_derived_and_unique() -> None:
    names = env_variables()
    assert len(names) == len(SETTING_KEYS) == len(set(names))
    for key in SETTING_KEYS:
        assert key.env == f"RIGHTSIZER_{key.section.upper()}_{key.name.upper()}"
    for name in ("RIGHTSIZER_STORE_PATH", "RIGHTSIZER_OUTPUT_FOLDER", "RIGHTSIZER_OUTPUT_DATED",
                 "RIGHTSIZER_SOURCES_LOGS", "RIGHTSIZER_SOURCES_ATHENA", "RIGHTSIZER_SOURCES_IAM",
                 "RIGHTSIZER_ATHENA_WORKGROUP", "RIGHTSIZER_ATHENA_OUTPUT_LOCATION",
                 "RIGHTSIZER_WINDOW_DAYS", "RIGHTSIZER_WINDOW_SINCE", "RIGHTSIZER_FINDINGS_FAIL_ON",
                 "RIGHTSIZER_LOGGING_FORMAT", "RIGHTSIZER_ANALYSIS_MIN_WINDOW_DAYS",
                 "RIGHTSIZER_RUN_FAIL_ON_FINDINGS", "RIGHTSIZER_AWS_REGION"):
        assert name in names
    assert "RIGHTSIZER_CONFIG" not in names


def test_the_docstring_documents_every_key_and_section() -> None:
    doc = settings_module.__doc__ or ""
    for key in SETTING_KEYS:
        assert f"[{key.section}]" in doc
        assert re.search(rf"^\s+{key.name} = ", doc, re.MULTILINE), key.dotted
    assert "[[exclusions]]" in doc and "[[trails]]" in doc and "file only" in doc
    assert "RIGHTSIZER_<SECTION>_<KEY>" in doc and "RIGHTSIZER_CONFIG" in doc


FILE = """
[store]
path = "file.duckdb"
[output]
folder = "file-out"
[window]
days = 30
"""


@pytest.mark.parametrize(
    ("env", "flags", "expected", "origin"),
    [
        ({}, {}, "file.duckdb", "FILE"),
        ({"RIGHTSIZER_STORE_PATH": "env.duckdb"}, {}, "env.duckdb", "env RIGHTSIZER_STORE_PATH"),
        ({"RIGHTSIZER_STORE_PATH": "env.duckdb"}, {"store.path": "flag.duckdb"}, "flag.duckdb",
         "flag"),
        ({}, {"store.path": "flag.duckdb"}, "flag.duckdb", "flag"),
        ({"RIGHTSIZER_STORE_PATH": "env.duckdb"}, {"store.path": None}, "env.duckdb",
         "env RIGHTSIZER_STORE_PATH"),
        ({"RIGHTSIZER_STORE_PATH": ""}, {}, "file.duckdb", "FILE"),  # empty: not set
        ({"RIGHTSIZER_STORE_PATH": "   "}, {}, "file.duckdb", "FILE"),
    ],
)
def test_layers_override_in_order(tmp_path: Path, env: dict[str, str], flags: dict[str, Any],
                                  expected: str, origin: str) -> None:
    path = write(tmp_path, FILE)
    s = load_settings(path, env=env, flags=flags)
    assert s.store.path == expected
    assert s.origins["store.path"] == (str(path) if origin == "FILE" else origin)
    # The other keys keep their own origin.
    assert (s.output.folder, s.origins["output.folder"]) == ("file-out", str(path))
    assert (s.window.days, s.origins["window.days"]) == (30, str(path))
    assert (s.output.keep, s.origins["output.keep"]) == (0, "default")
    assert s.source == str(path)


def test_file_overrides_defaults_and_env_overrides_file_for_every_kind(tmp_path: Path) -> None:
    path = write(tmp_path, """
[sources]
logs = ["a", "s3://bucket/prefix"]
[output]
dated = true
keep = 3
[athena]
price_per_tb = 6
projection_start = 2024-01-01
[findings]
fail_on = "LOW"
[logging]
format = "json"
""")
    s = load_settings(path)
    assert s.sources.logs == ("a", "s3://bucket/prefix")
    assert (s.output.dated, s.output.keep) == (True, 3)
    assert s.athena.price_per_tb == 6.0 and s.athena.projection_start == date(2024, 1, 1)
    assert s.fail_on is Severity.LOW and s.logging.format == "json"
    env = {"RIGHTSIZER_SOURCES_LOGS": " x , ,y,", "RIGHTSIZER_OUTPUT_DATED": "no",
           "RIGHTSIZER_OUTPUT_KEEP": "7", "RIGHTSIZER_ATHENA_PRICE_PER_TB": "2.5",
           "RIGHTSIZER_ATHENA_PROJECTION_START": "2025-02-03",
           "RIGHTSIZER_FINDINGS_FAIL_ON": "Critical", "RIGHTSIZER_LOGGING_FORMAT": "text"}
    s = load_settings(path, env=env)
    assert s.sources.logs == ("x", "y")
    assert (s.output.dated, s.output.keep) == (False, 7)
    assert s.athena.price_per_tb == 2.5 and s.athena.projection_start == date(2025, 2, 3)
    assert s.fail_on is Severity.CRITICAL and s.logging.format == "text"
    assert {s.origins[k.dotted] for k in SETTING_KEYS if k.env in env} == {
        f"env {k.env}" for k in SETTING_KEYS if k.env in env}


def test_flags_override_env_with_click_types() -> None:
    env = {"RIGHTSIZER_WINDOW_SINCE": "2026-01-01", "RIGHTSIZER_WINDOW_UNTIL": "2026-02-01",
           "RIGHTSIZER_SOURCES_LOGS": "env-logs", "RIGHTSIZER_RUN_WORKERS": "3",
           "RIGHTSIZER_RUN_PDF": "true"}
    flags: dict[str, Any] = {"window.since": datetime(2026, 1, 10), "window.until": date(2026, 1,
                                                                                          20),
                             "sources.logs": ("a", "b"), "run.workers": 8, "run.pdf": False}
    s = load_settings(env=env, flags=flags)
    assert (s.window.since, s.window.until) == (date(2026, 1, 10), date(2026, 1, 20))
    assert s.sources.logs == ("a", "b") and s.run.workers == 8 and s.run.pdf is False
    assert all(s.origins[k] == "flag" for k in flags)


@pytest.mark.parametrize(
    ("flags", "kept"),
    [
        ({"sources.logs": ()}, ("env-a", "env-b")),
        ({"sources.logs": []}, ("env-a", "env-b")),
        ({"sources.logs": None}, ("env-a", "env-b")),
        ({"sources.logs": ("flag",)}, ("flag",)),
        ({"sources.logs": "one"}, ("one",)),
    ],
)
def test_empty_or_none_flags_do_not_override(flags: dict[str, Any], kept: tuple[str, ...]) -> None:
    s = load_settings(env={"RIGHTSIZER_SOURCES_LOGS": "env-a,env-b"}, flags=flags)
    assert s.sources.logs == kept


def test_none_flags_keep_every_default() -> None:
    s = load_settings(flags={k.dotted: None for k in SETTING_KEYS})
    assert s == Settings()


def test_an_env_list_without_items_is_not_set(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources]\nathena = ["athena://db.t"]\n')
    s = load_settings(path, env={"RIGHTSIZER_SOURCES_ATHENA": " , ,"})
    assert s.sources.athena == ("athena://db.t",) and s.origins["sources.athena"] == str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True),
     ("false", False), ("0", False), ("No", False), ("off", False)],
)
def test_booleans_from_env(text: str, expected: bool) -> None:
    s = load_settings(env={"RIGHTSIZER_OUTPUT_DATED": text, "RIGHTSIZER_RUN_PDF": text})
    assert s.output.dated is expected and s.run.pdf is expected


def test_a_bad_boolean_names_the_variable() -> None:
    message = error(env={"RIGHTSIZER_RUN_FAIL_ON_FINDINGS": "maybe"})
    assert message.startswith("RIGHTSIZER_RUN_FAIL_ON_FINDINGS: must be true or false")
    assert "'maybe'" in message


def test_env_is_not_read_implicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZER_STORE_PATH", "from-os.duckdb")
    monkeypatch.setenv("RIGHTSIZER_NONSENSE", "x")
    assert load_settings().store.path == "rightsizer.duckdb"


# -- errors name the layer and the key ------------------------------------------------------------

# (dotted key, TOML literal, env text or None when the env cannot express the value, the flag value,
#  what the message says)
BAD_VALUES = [
    ("window.days", "0", "0", 0, "must be a whole number of days >= 1, not 0"),
    ("window.days", "1.5", "1.5", 1.5, "must be a whole number of days >= 1, not "),
    ("window.days", '"abc"', "abc", "abc", "must be a whole number of days >= 1, not 'abc'"),
    ("window.since", '"yesterday"', "yesterday", "yesterday", "'yesterday'"),
    ("output.keep", "-1", "-1", -1, "must be a whole number of runs >= 0"),
    ("output.dated", '"yes"', "maybe", "maybe", "must be true or false"),
    ("run.workers", "65", "65", 65, "from 1 to 64, not 65"),
    ("run.workers", "0", "0", 0, "from 1 to 64, not 0"),
    ("athena.price_per_tb", "0", "0", 0.0, "must be a price in USD per TB scanned > 0"),
    ("athena.price_per_tb", '"x"', "nan", "inf", "> 0"),
    ("athena.layout", '"flat"', "flat", "flat",
     "must be one of organization, account, not 'flat'"),
    ("athena.organization_id", '"org-1"', "org-1", "org-1", "like o-abc123defg, not 'org-1'"),
    ("athena.output_location", '"results/"', "results/", "results/", "must be an s3:// URI"),
    ("athena.bucket", '"s3://bucket"', "s3://bucket", "s3://bucket", "an S3 bucket name"),
    ("athena.prefix", '"/AWSLogs"', "/AWSLogs", "/AWSLogs", "without a leading /"),
    ("athena.accounts", '["1234"]', "1234", ("1234",), "'1234' is not a 12-digit account id"),
    ("athena.accounts", "[111122223333]", None, (111122223333,), "must be a list of strings"),
    ("athena.regions", '["Europe"]', "Europe", ("Europe",), "'Europe' is not an AWS region"),
    ("athena.principals", '["arn:aws:iam::1:user/x"]', "arn:aws:iam::1:user/x",
     ("arn:aws:iam::1:user/x",), "is not a role ARN"),
    ("aws.region", '"EU"', "EU", "EU", "must be an AWS region like eu-west-1, not 'EU'"),
    ("aws.endpoint_url", '"localhost:5000"', "localhost:5000", "localhost:5000",
     "must be an http:// or https:// URL"),
    ("sources.athena", '["athena://db"]', "athena://db", ("athena://db",),
     "'athena://db' is not athena://DATABASE.TABLE"),
    ("sources.athena", '["athena://db.t-x"]', "athena://db.t-x", ("athena://db.t-x",),
     "is not athena://DATABASE.TABLE"),
    ("sources.logs", '"sample_logs"', None, 3, "must be a list of strings"),
    ("sources.logs", '["s3://"]', "s3://", ("s3://",), "'s3://' is not a local path or an s3://"),
    ("sources.iam", '""', None, "", "must be 'aws' or the path"),
    ("store.path", "3", None, 3, "must be a file path, not 3"),
    ("logging.format", '"xml"', "xml", "xml", "must be one of text, json, not 'xml'"),
    ("logging.level", '"verbose"', "verbose", "verbose", "must be one of debug, info, warning"),
    ("findings.fail_on", '"urgent"', "urgent", "urgent",
     "must be one of critical, high, medium, low, info, not 'urgent'"),
    ("analysis.min_window_days", "-1", "-1", -1, "must be a number of days >= 0"),
    ("analysis.min_window_days", "true", "many", True, "must be a number of days >= 0"),
]
KEYS = {k.dotted: k for k in SETTING_KEYS}


@pytest.mark.parametrize(
    ("layer", "dotted", "toml", "text", "flag", "says"),
    [(layer, *bad) for layer in ("file", "env", "flag") for bad in BAD_VALUES
     if not (layer == "env" and bad[2] is None)],  # None: the environment cannot express it
)
def test_every_error_names_the_layer_and_the_key(
    tmp_path: Path, layer: str, dotted: str, toml: str, text: str | None, flag: object, says: str
) -> None:
    key = KEYS[dotted]
    if layer == "file":
        section, name = dotted.split(".")
        message = error(tmp_path, f"[{section}]\n{name} = {toml}\n")
        assert message.startswith(f"{tmp_path / 'rightsizer.toml'}: {dotted}")
    elif layer == "env":
        assert text is not None
        message = error(env={key.env: text})
        assert message.startswith(f"{key.env}: ")
    else:
        message = error(flags={dotted: flag})
        assert message.startswith(f"{key.flag_name}: ")
    assert says in message


def test_a_bad_value_is_an_error_even_when_a_higher_layer_overrides_it(tmp_path: Path) -> None:
    message = error(tmp_path, "[window]\ndays = 0\n", flags={"window.days": 30})
    assert message == (f"{tmp_path / 'rightsizer.toml'}: window.days must be a whole number of "
                       "days >= 1, not 0")
    message = error(env={"RIGHTSIZER_WINDOW_DAYS": "abc"}, flags={"window.days": 30})
    assert message == "RIGHTSIZER_WINDOW_DAYS: must be a whole number of days >= 1, not 'abc'"


@pytest.mark.parametrize(
    ("text", "env", "flags", "message"),
    [
        (None, {}, {"window.since": date(2026, 10, 2), "window.until": date(2026, 10, 1)},
         "--since 2026-10-02 is after --until 2026-10-01"),
        ("[window]\nsince = 2026-10-02\nuntil = 2026-10-01\n", {}, {},
         "FILE: window.since 2026-10-02 is after window.until 2026-10-01"),
        ("[window]\nsince = 2026-10-02\n", {}, {"window.until": datetime(2026, 10, 1)},
         "window.since 2026-10-02 (FILE) is after --until 2026-10-01"),
        (None, {"RIGHTSIZER_WINDOW_SINCE": "2026-10-02"}, {"window.until": date(2026, 10, 1)},
         "RIGHTSIZER_WINDOW_SINCE=2026-10-02 is after --until 2026-10-01"),
    ],
)
def test_since_after_until_names_both_layers(tmp_path: Path, text: str | None,
                                             env: dict[str, str], flags: dict[str, Any],
                                             message: str) -> None:
    got = error(tmp_path if text else None, text, env=env, flags=flags)
    assert got == message.replace("FILE", str(tmp_path / "rightsizer.toml"))


def test_a_higher_layer_can_resolve_a_window_conflict(tmp_path: Path) -> None:
    path = write(tmp_path, "[window]\nsince = 2026-10-02\nuntil = 2026-10-01\n")
    s = load_settings(path, flags={"window.until": date(2026, 10, 31)})
    assert (s.window.since, s.window.until) == (date(2026, 10, 2), date(2026, 10, 31))


def test_organization_layout_without_an_id_loads() -> None:
    s = load_settings(env={"RIGHTSIZER_ATHENA_LAYOUT": "Organization"})
    assert s.athena.layout == "organization" and s.athena.organization_id is None


def test_unknown_env_var_lists_the_known_ones() -> None:
    message = error(env={"RIGHTSIZER_STORE_PTH": "x", "HOME": "/root"})
    assert message.startswith("RIGHTSIZER_STORE_PTH: unknown environment variable (known: ")
    assert "RIGHTSIZER_STORE_PATH" in message and "RIGHTSIZER_WINDOW_DAYS" in message
    assert "RIGHTSIZER_CONFIG" not in message


def test_other_rightsizer_variables_are_not_settings() -> None:
    # RIGHTSIZER_CHROMIUM is the PDF printer's; an empty RIGHTSIZER_CONFIG names no file.
    assert load_settings(env={"RIGHTSIZER_CHROMIUM": "/usr/bin/chromium",
                              "RIGHTSIZER_CONFIG": ""}) == Settings()


def test_an_unknown_flag_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"unknown setting 'window\.day'"):
        load_settings(flags={"window.day": 3})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[analysis\n", "not valid TOML"),
        ("[nonsense]\n",
         "unknown section [nonsense] (known: analysis, athena, aws, exclusions, findings"),
        ("[analysis]\nmin_window = 3\n",
         "unknown key(s) in [analysis]: min_window (known: min_window_days)"),
        ("[window]\nday = 3\n", "unknown key(s) in [window]: day (known: days, since, until)"),
        ('[[exclusions]]\naction = "kms:Decrypt"\nreason = "x"\nrol = "a"\n',
         "unknown key(s) in [exclusions]: rol (known: action, expires, reason, role)"),
        ("[[window]]\ndays = 3\n", "[window] must be a table"),
        ('[exclusions]\naction = "kms:Decrypt"\n', "exclusions must be an array of tables"),
        ('[[exclusions]]\naction = "kms:Decrypt"\n', "needs a reason"),
        ('[[exclusions]]\naction = "x"\nreason = "r"\n', "action must be an IAM action pattern"),
        ('[[exclusions]]\naction = "s3:*"\nreason = "r"\nexpires = "soon"\n',
         "expires must be a date"),
        ('[[trails]]\nmanagement_events = "some"\n', "management_events must be one of"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    got = error(tmp_path, text)
    assert got.startswith(str(tmp_path / "rightsizer.toml")) and message in got


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigError, match=r"/nonexistent/r\.toml: no such configuration file"):
        load_settings(Path("/nonexistent/r.toml"))


# -- RIGHTSIZER_CONFIG -----------------------------------------------------------------------------


def test_rightsizer_config_picks_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\npath = "cfg.duckdb"\n')
    s = load_settings(env={"RIGHTSIZER_CONFIG": str(path)})
    assert s.store.path == "cfg.duckdb" and s.origins["store.path"] == str(path)
    assert s.source == str(path)


def test_an_explicit_path_wins_over_rightsizer_config(tmp_path: Path) -> None:
    env_file = write(tmp_path, '[store]\npath = "env-file.duckdb"\n', "env.toml")
    flag_file = write(tmp_path, '[store]\npath = "flag-file.duckdb"\n', "flag.toml")
    s = load_settings(flag_file, env={"RIGHTSIZER_CONFIG": str(env_file)})
    assert s.store.path == "flag-file.duckdb"


def test_a_missing_rightsizer_config_file_says_where_it_came_from(tmp_path: Path) -> None:
    message = error(env={"RIGHTSIZER_CONFIG": str(tmp_path / "gone.toml")})
    assert message == (f"{tmp_path / 'gone.toml'}: no such configuration file "
                       "(from RIGHTSIZER_CONFIG)")


# -- existing keys ---------------------------------------------------------------------------------


def test_existing_keys_still_parse(tmp_path: Path) -> None:
    path = write(tmp_path, """
[analysis]
min_window_days = 60

[[exclusions]]
action = "kms:CreateKey"
role = "ecsTaskExecution*"
reason = "  key bootstrap  "

[[exclusions]]
action = "kms:ListKeys"
reason = "expired"
expires = 2020-01-01

[[trails]]
management_events = "write"
exclude_sources = ["kms.amazonaws.com"]
data_events = ["AWS::S3::Object"]

[[trails]]
name = "regional"
multi_region = false
home_region = "eu-west-1"

[findings]
fail_on = "critical"
""")
    s = load_settings(path)
    assert s.min_window_days == 60.0 and isinstance(s.min_window_days, float)
    assert s.exclusions == (
        Exclusion(action="kms:CreateKey", role="ecsTaskExecution*", reason="key bootstrap"),
        Exclusion(action="kms:ListKeys", role="*", reason="expired", expires=date(2020, 1, 1)),
    )
    assert [t.name for t in s.trails] == ["trail 1", "regional"]
    assert s.trails[0].management_read is False and s.trails[0].management_write is True
    assert s.trails[0].excluded_management_sources == ("kms.amazonaws.com",)
    assert s.trails[1].multi_region is False and s.trails[1].home_region == "eu-west-1"
    assert s.fail_on is Severity.CRITICAL
    assert s.origins["exclusions"] == s.origins["trails"] == str(path)
    assert s.origins["findings.fail_on"] == str(path)


def test_the_old_call_with_a_path_only_still_works(tmp_path: Path) -> None:
    path = write(tmp_path, '[findings]\nfail_on = "critical"\n')
    assert load_settings(path).fail_on is Severity.CRITICAL
    assert load_settings(None) == Settings()


# -- the deployed example -------------------------------------------------------------------------


def test_the_deploy_example_loads_with_the_documented_values() -> None:
    s = load_settings(DEPLOY)
    assert s.sources.athena == ("athena://cloudtrail.org_trail",)
    assert (s.sources.iam, s.sources.ecs) == ("aws", "aws")
    assert s.store.path == "/data/rightsizer.duckdb"
    assert (s.output.folder, s.output.dated, s.output.keep) == ("/data/out", True, 30)
    assert s.window.days == 90 and s.window.since is None and s.window.until is None
    assert s.logging.format == "json"
    assert s.run.fail_on_findings is False and s.fail_on is Severity.HIGH
    assert s.athena.layout == "organization" and s.athena.organization_id
    assert len(s.exclusions) == 1 and s.exclusions[0].reason and s.exclusions[0].expires
    assert len(s.trails) == 1 and s.trails[0].name == "org-trail"
    assert s.athena_region == "eu-west-1"
    assert set(s.origins.values()) <= {str(DEPLOY), "default"}


def test_the_deploy_example_takes_overrides_from_env_and_flags() -> None:
    s = load_settings(DEPLOY, env={"RIGHTSIZER_WINDOW_DAYS": "30",
                                   "RIGHTSIZER_RUN_FAIL_ON_FINDINGS": "1"},
                      flags={"output.folder": "/tmp/out"})
    assert (s.window.days, s.run.fail_on_findings, s.output.folder) == (30, True, "/tmp/out")
    assert s.describe()["window.days"] == {"value": 30, "origin": "env RIGHTSIZER_WINDOW_DAYS"}
    assert s.describe()["output.folder"] == {"value": "/tmp/out", "origin": "flag"}
    assert s.describe()["athena.projection_start"]["value"] == "2024-01-01"


# -- the window -----------------------------------------------------------------------------------

TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("window", "bounds"),
    [
        (WindowSettings(), (date(2026, 8, 31), TODAY)),
        (WindowSettings(days=1), (TODAY, TODAY)),
        (WindowSettings(days=7, until=date(2026, 11, 20)),
         (date(2026, 11, 14), date(2026, 11, 20))),
        (WindowSettings(days=7, since=date(2026, 11, 1)), (date(2026, 11, 1), TODAY)),
        (WindowSettings(since=date(2026, 9, 1), until=date(2026, 9, 30)),
         (date(2026, 9, 1), date(2026, 9, 30))),
    ],
)
def test_window_bounds(window: WindowSettings, bounds: tuple[date, date]) -> None:
    s = Settings(window=window)
    assert s.window_bounds(TODAY) == bounds
    first, last = bounds
    if window.since is None:
        assert (last - first).days + 1 == window.days


def test_a_since_in_the_future_is_an_error_naming_its_origin() -> None:
    s = load_settings(flags={"window.since": date(2026, 12, 1)})
    with pytest.raises(ConfigError, match=r"window.since 2026-12-01 is after .* 2026-11-28 "
                                          r"\(window.since from flag\)"):
        s.window_bounds(TODAY)


def test_days_with_since_is_noted_as_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "[window]\ndays = 30\n")
    s = load_settings(path, flags={"window.since": date(2026, 9, 1)})
    assert s.notes == (f"window.days (from {path}) is ignored: window.since is set (from flag)",)
    assert load_settings(flags={"window.since": date(2026, 9, 1)}).notes == ()


# -- property: the highest layer wins --------------------------------------------------------------

# A valid value of each kind in each of its three spellings (TOML literal, env text, flag value).
SAMPLES: dict[str, list[tuple[str, str, object, object]]] = {
    "store.path": [('"a.duckdb"', "a.duckdb", "a.duckdb", "a.duckdb"),
                   ('"b.duckdb"', "b.duckdb", "b.duckdb", "b.duckdb")],
    "window.days": [("1", "1", 1, 1), ("45", "45", 45, 45), ("365", "365", 365, 365)],
    "output.dated": [("true", "yes", True, True), ("false", "0", False, False)],
    "athena.price_per_tb": [("2.5", "2.5", 2.5, 2.5), ("7", "7", 7, 7.0)],
    "window.until": [("2026-01-02", "2026-01-02", date(2026, 1, 2), date(2026, 1, 2)),
                     ("2026-03-04", "2026-03-04", datetime(2026, 3, 4), date(2026, 3, 4))],
    "sources.logs": [('["a", "b"]', "a,b", ("a", "b"), ("a", "b")),
                     ('["s3://x/y"]', " s3://x/y ", ("s3://x/y",), ("s3://x/y",))],
    "logging.level": [('"debug"', "DEBUG", "debug", "debug"), ('"error"', "error", "Error",
                                                                "error")],
}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dotted=st.sampled_from(sorted(SAMPLES)),
    layers=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    picks=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
)
def test_the_highest_layer_wins(tmp_path: Path, dotted: str, layers: tuple[bool, bool, bool],
                                picks: tuple[int, int, int]) -> None:
    key = KEYS[dotted]
    samples = SAMPLES[dotted]
    in_file, in_env, in_flag = layers
    file_value, env_value, flag_value = (samples[p % len(samples)] for p in picks)
    path = None
    if in_file:
        path = write(tmp_path, f"[{key.section}]\n{key.name} = {file_value[0]}\n")
    env = {key.env: env_value[1]} if in_env else {}
    flags = {dotted: flag_value[2]} if in_flag else {dotted: None}
    s = load_settings(path, env=env, flags=flags)
    if in_flag:
        expected, origin = flag_value[3], "flag"
    elif in_env:
        expected, origin = env_value[3], f"env {key.env}"
    elif in_file:
        expected, origin = file_value[3], str(path)
    else:
        expected, origin = key.default, "default"
    assert s.value(dotted) == expected
    assert s.origins[dotted] == origin
