#!/usr/bin/env python3
"""Set up a virtual environment for this checkout and run the demo or the tests.

    python3 dev.py demo     # the main job: a whole venue on this machine, watched live
    python3 dev.py test     # the whole test suite
    python3 dev.py lint     # ruff check and ruff format --check (CI runs it before the tests)
    python3 dev.py bench    # every benchmark, one table (--quick: a few minutes; bench/README.md)

Needs only python3 (with its venv module; on Debian: apt-get install python3-venv).
The environment lives in .venv and is refreshed when pyproject.toml changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".gatehouse-installed"


def ensure_venv() -> None:
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as exc:  # ensurepip missing is the usual cause on Debian
            sys.exit(
                f"dev.py: cannot create {VENV}: {exc}\n"
                "On Debian or Raspberry Pi OS: sudo apt-get install python3-venv"
            )
    pyproject = ROOT / "pyproject.toml"
    if STAMP.exists() and STAMP.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    print("installing gatehouse and its test tools into .venv", flush=True)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--editable", f"{ROOT}[dev]"], check=True)
    STAMP.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "lint", "bench"):
        print(__doc__)
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "demo":  # from where it was typed: its --json FILE and --keep DIR are
        return subprocess.call([str(VENV / "bin" / "gate"), "demo", *rest])
    os.chdir(ROOT)
    if command == "lint":
        ruff = [str(PYTHON), "-m", "ruff"]
        checked = subprocess.call([*ruff, "check", "--no-cache", ".", *rest])
        return checked or subprocess.call([*ruff, "format", "--check", "--no-cache", "."])
    if command == "bench":
        return subprocess.call([str(PYTHON), "-m", "bench.all", *rest])
    # The tests on every core (pytest-xdist; most of their time is spent waiting on real
    # daemons, hubs and disks): a later -n of the caller's wins (-n 0: one process).
    return subprocess.call(
        [str(PYTHON), "-m", "pytest", "-q", "-n", "auto", "--maxprocesses", "4", *rest]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
