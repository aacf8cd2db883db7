"""The notebooks in ``notebooks/`` run top to bottom on a fresh checkout, and are committed
stripped (no outputs, no execution counts).

Each notebook ends with a cell of ``assert``s about what it showed (every proof passed, the tables
add up); a failing assert is a cell error, and a cell error fails the test.

Which Python runs the notebook: the kernel must be *this* interpreter (the project's venv, where
rightsizer is installed). The ``python3`` kernelspec Jupyter would find is usually the venv's own
(``share/jupyter/kernels/python3``, argv ``python``, which jupyter_client replaces by
``sys.executable``), but not always: ``JUPYTER_PATH`` entries are searched first, and so is the
user's ``~/.local/share/jupyter/kernels/python3`` when ``JUPYTER_PREFER_ENV_PATH=0`` or the venv
belongs to another user (jupyter_core then ranks user paths first); either may start another
Python. So the test writes its own ``python3`` kernelspec, whose argv starts with
``sys.executable``, into a temporary folder, and gives nbclient a ``KernelManager`` whose
``KernelSpecManager`` looks only there. The user's Jupyter setup is neither read nor changed, and
the notebooks' own metadata still say ``python3``. A probe cell appended to the executed copy
checks the interpreter.

Where it runs: the kernel starts in ``<tmp>/checkout/notebooks``, next to a ``sample_logs``
symlink, as Jupyter would start it in the real checkout's ``notebooks/`` (the notebooks walk up
from their working directory to the folder holding ``sample_logs/``). ``TMPDIR`` points into the
test's temporary folder, so the store and output folder the notebooks make land there.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_explore_usage.ipynb", "02_review_proposals.ipynb",
            "03_new_roles_and_failures.ipynb")
# Appended to the executed copy only: which interpreter ran it, and some of the notebook's state.
PROBE = """\
import json as _json
import sys as _sys

_probe = {"executable": _sys.executable,
          "ecs_roles": sorted(r.role.name for r in result.roles)}
if "by_role" in globals():
    _probe |= {"usage_calls": int(usage.calls.sum()), "by_role_calls": int(by_role.calls.sum())}
if "replay" in globals():
    _probe["replay_passed"] = {k: bool(v) for k, v in replay.passed.items()}
print(_json.dumps(_probe))"""
# What notebooks may import from the package: the public API and the report's charts.
ALLOWED_IMPORTS = {"rightsizer"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in kernel tracebacks


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A KernelManager for kernel ``python3`` that can only start this interpreter."""
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (rightsizer tests)",
        "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    assert specs.get_kernel_spec("python3").argv[0] == sys.executable
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def _outputs(cell: nbformat.NotebookNode) -> tuple[str, list[str]]:
    """A code cell's text output and the MIME types of its rich outputs."""
    text, mimes = [], []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            text.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            text.append(output.data.get("text/plain", ""))
            mimes.extend(output.data)
    return "".join(text), mimes


class Executed:
    """One notebook, executed once per test module, and where it wrote."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        checkout = tmp_path / "checkout"
        self.workdir = checkout / "notebooks"
        self.workdir.mkdir(parents=True)
        (checkout / "sample_logs").symlink_to(ROOT / "sample_logs", target_is_directory=True)
        self.checkout = checkout
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir()
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        km = _kernel_manager(tmp_path)
        client = NotebookClient(nb, timeout=600, kernel_name="python3", km=km,
                                shutdown_kernel="immediate",
                                resources={"metadata": {"path": str(self.workdir)}})
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TMPDIR", str(self.scratch))  # the kernel's tempfile.mkdtemp()
            # CellExecutionError on the first cell that raises. nbclient leaves a kernel it was
            # given running; cleanup_kc=True shuts it down, also after an error.
            client.execute(cleanup_kc=True)
        assert not km.has_kernel
        self.nb = nb
        self.code = [c for c in nb.cells if c.cell_type == "code"]
        self.probe = json.loads(_outputs(self.code[-1])[0])

    def output_of(self, first_line: str) -> tuple[str, list[str]]:
        """The outputs of the one code cell whose source starts with ``first_line``."""
        (cell,) = [c for c in self.code if c.source.startswith(first_line)]
        return _outputs(cell)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Executed]:
    runs: dict[str, Executed | str] = {}  # a notebook that failed is not run again

    def run(name: str) -> Executed:
        if name not in runs:
            try:
                runs[name] = Executed(name, tmp_path_factory.mktemp(name.split("_")[0]))
            except CellExecutionError as error:
                runs[name] = f"{name} failed:\n{ANSI.sub('', str(error))}"
        done = runs[name]
        if isinstance(done, str):
            pytest.fail(done)
        return done

    return run


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs_top_to_bottom(name: str, executed: Callable[[str], Executed]) -> None:
    run = executed(name)
    assert all(c.execution_count is not None for c in run.code)  # every cell ran
    assert not [o for c in run.code for o in c.outputs if o.output_type == "error"]
    assert run.probe["executable"] == sys.executable  # the kernel was this venv's interpreter
    checks, _ = _outputs(run.code[-2])  # the notebook's own asserts, then its summary line
    assert checks.startswith("OK: ")

    text = "".join(_outputs(c)[0] for c in run.code)
    assert f"repository: {run.checkout}" in text  # found by walking up from notebooks/
    charts = [c for c in run.code if c.source.startswith("charts.")]
    assert len(charts) >= 2
    for cell in charts:  # each chart drawn once, inline
        assert _outputs(cell)[1].count("image/png") == 1, cell.source
    tables = sum(_outputs(c)[1].count("text/html") for c in run.code)
    assert tables >= 5  # DataFrames rendered as tables

    # Everything the notebook wrote went to a temporary folder, none into the checkout.
    assert not any(run.workdir.iterdir())
    (work,) = run.scratch.glob("rightsizer-notebook-*")
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert sorted(r["name"] for r in summary["roles"]) == run.probe["ecs_roles"]
    assert (work / "sample.duckdb").is_file()


def test_explore_notebook_shows_usage_and_the_drill_down(
        executed: Callable[[str], Executed]) -> None:
    run = executed(EXPECTED[0])
    assert run.probe["usage_calls"] == run.probe["by_role_calls"] > 0
    assert "orders-api-task" in run.probe["ecs_roles"]
    touched, mimes = run.output_of("touched =")
    assert "text/html" in mimes and "arn:aws:dynamodb:" in touched and "table/orders" in touched
    denied, _ = run.output_of("print(f\"{ROLE}: ")
    assert "AccessDenied" in denied  # some role was refused something


def test_review_notebook_shows_the_proofs_and_policies(
        executed: Callable[[str], Executed]) -> None:
    run = executed(EXPECTED[1])
    passed = run.probe["replay_passed"]
    # Every judged role's proposal passed; the one role that never ran has none to prove.
    assert sorted(passed) == sorted(set(run.probe["ecs_roles"]) - {"notifier-task-legacy"})
    assert len(passed) == 10 and all(passed.values())
    _, mimes = run.output_of("replay =")
    assert "text/html" in mimes  # the replay figures are shown as a table
    policies, _ = run.output_of("by_name =")
    assert "== orders-api-task: rightsizer-orders-api-task" in policies
    assert '"logs:PutLogEvents"' in policies  # the execution role keeps what awslogs needs


def test_failures_notebook_shows_new_roles_explained_failures_and_changes(
        executed: Callable[[str], Executed]) -> None:
    run = executed(EXPECTED[2])
    _, mimes = run.output_of("made =")
    assert "text/html" in mimes  # the new roles as a table
    policy, _ = run.output_of("orders = ")
    assert '"ecs-tasks.amazonaws.com"' in policy and '"aws:SourceAccount"' in policy
    failures, _ = run.output_of("failing =")
    assert "TRUST_WRONG_PRINCIPAL" in failures and "REPOSITORY_POLICY" in failures
    changes, _ = run.output_of("result =")
    assert "PutRolePolicy" in changes and "ci-deployer" in changes


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_notebook_is_stripped(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "pip install -e '.[dev]'" in nb.cells[0].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: outputs committed: {cell.source[:60]!r}"
            assert cell.execution_count is None, f"{name}: execution count committed"
        assert "execution" not in cell.metadata  # no timing left by a run


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_uses_only_the_public_api(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    imported = set(re.findall(r"^\s*from (rightsizer[\w.]*) import", source, re.MULTILINE))
    imported |= set(re.findall(r"^\s*import (rightsizer[\w.]*)", source, re.MULTILINE))
    assert "rightsizer" in imported
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    assert not re.search(r"^\s*(import|from) duckdb", source, re.MULTILINE)  # the store via the API


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)
