"""The README gets a new user from clone to out/report.html on its first screen, says exactly what
CI runs, and the docs it links to exist, name only flags that exist, and cite no notes that are
not in the repository (issue 14)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from rightsizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
SHIPPED_TEXT = [README, *DOCS, ROOT / "SECURITY.md", ROOT / "deploy" / "README.md"]
FIRST_SCREEN = 30  # lines a browser shows of a README before one scrolls


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.DOTALL)


def _commands() -> list[str]:
    blocks = _code_blocks(README.read_text(encoding="utf-8"))
    return [b.strip() for b in blocks[:2]]


def test_the_first_screen_has_both_commands_and_says_where_the_report_is() -> None:
    first = "\n".join(README.read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN])
    run, tests = _commands()
    assert run in first and tests in first
    assert "rightsizer run" in run and "pytest" in tests
    assert "out/report.html" in first


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = [line for line in ci.splitlines() if line and not line.startswith("#")][-1]
    assert command == _commands()[1]


def test_the_run_command_uses_only_what_the_checkout_holds() -> None:
    words = shlex.split(_commands()[0])
    for flag in ("--logs", "--iam", "--ecs", "--trail"):
        assert (ROOT / words[words.index(flag) + 1]).exists(), flag


@pytest.mark.parametrize("page", SHIPPED_TEXT, ids=lambda p: p.name)
def test_no_shipped_page_cites_notes_that_are_not_in_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"DESIGN\.md|DOMAIN\.md|\b[Ii]ssue \d+", text)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_local_link_leads_somewhere(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name}: {target}"


def _options() -> set[str]:
    found = {"--version", "--help", "-h", "-v"}

    def walk(group: click.Group) -> None:
        for command in group.commands.values():
            if isinstance(command, click.Group):
                walk(command)
                continue
            for param in command.params:
                if isinstance(param, click.Option):
                    found.update(param.opts, param.secondary_opts)

    walk(main)
    return found


# Flags of other tools the pages quote: Homebrew, the AWS CLI, the Athena benchmark; "--no-" is
# the prefix of the boolean flags' negations.
_OTHER_TOOLS = {"--cask", "--capabilities", "--accounts", "--events-per-day", "--no-"}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_flag_the_pages_name_exists(page: Path) -> None:
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", page.read_text(encoding="utf-8")))
    assert named - _options() - _OTHER_TOOLS == set()


def test_the_runtime_dependencies_hold_no_test_or_lint_tool() -> None:
    """The image installs the runtime dependencies only (Dockerfile): pytest and the linters
    belong to the dev extra, which the README's test command installs."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["dependencies"]}
    dev = {re.split(r"[<>=\[ ]", d)[0].lower() for d in project["optional-dependencies"]["dev"]}
    for tool in ("pytest", "ruff", "moto", "hypothesis", "import-linter"):
        assert tool not in names and tool in dev, tool
    for core in ("boto3", "pandas", "pyathena", "duckdb", "matplotlib"):
        assert core in names, core
