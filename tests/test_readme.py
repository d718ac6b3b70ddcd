"""The README as a newcomer reads it: every command it shows exists as shown, every page
and picture it points to is there.

The two Quick-start commands run for real elsewhere: ``python3 dev.py test`` is what CI
runs (.ci/run), and tests/test_demo.py runs the demo commands exactly as the README
shows them. Here every ``gate`` line is asked for ``--help`` at its sub-command, and each
option the README shows must be one that sub-command takes.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .clikit import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Words that stand for a value a person fills in; the sub-command path ends before one.
PLACEHOLDER = re.compile(r"^(\[|[A-Z]|-|\.\.\.|gate\.toml$|\d)")


def shell_lines() -> list[str]:
    """Every command line of the README's ```sh blocks (comments and continuations off)."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for raw in block.splitlines():
            line = raw.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def gate_lines() -> list[str]:
    return [line for line in shell_lines() if line.startswith("gate ")]


def test_the_quick_start_is_two_commands_dev_py_knows() -> None:
    quick = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [ln.split("#", 1)[0].strip() for ln in quick.splitlines() if ln.strip()]
    assert commands == ["python3 dev.py demo", "python3 dev.py test"]
    for line in shell_lines():
        if line.startswith("python3 dev.py"):
            assert line.split()[2] in ("demo", "test", "lint", "bench"), line


@pytest.mark.parametrize("line", gate_lines())
def test_every_gate_command_shown_exists_with_its_options(line: str) -> None:
    words = line.split()[1:]
    path: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-c", "--dir"):  # the config file or the hub directory: a value
            i += 2
            continue
        if PLACEHOLDER.match(word) or word in ("ledger.jsonl", "TOKEN", "IMAGE", "CODE"):
            break
        path.append(word)
        i += 1
    shown = {w.strip("[]") for w in words if w.strip("[]").startswith("--")}
    shown = {w.split("=", 1)[0] for w in shown} - {"--dir"}
    done = subprocess.run(
        [sys.executable, "-m", "gate", *path, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{line}: gate {' '.join(path)} --help: {done.stderr}"
    offered = set(re.findall(r"--[a-z][a-z0-9-]*", done.stdout))
    assert shown <= offered, f"{line}: not options of gate {' '.join(path)}: {shown - offered}"


def test_every_page_and_picture_it_points_to_is_there() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)\)", README)
    assert "docs/images/demo-live.png" in targets and "docs/images/demo-summary.png" in targets
    for target in targets:
        assert (ROOT / target).exists(), target
    for picture in ("demo-live.png", "demo-summary.png"):
        assert (ROOT / "docs/images" / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_configuration_table_is_filled_in() -> None:
    table = README.split("<!-- config-reference:start -->", 1)[1].split("<!-- config-", 1)[0]
    assert "| [peers] | `listen` |" in table and "| (top level) | `device` |" in table
