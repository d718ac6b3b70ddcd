"""Where the hub ends: a gate loads none of it, and it uses none of the gate's store.

A gate installs no hub (no FastAPI, no uvicorn) and must not carry the hub's code in
its processes; the hub checks blocks with the gates' pure rules over its own tables,
never through the gate's store, so the two can change their storage independently.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HUB_MODULES = (
    "[m for m in sys.modules if m == 'hub' or m.startswith('hub.') or m in ('fastapi', 'uvicorn')]"
)


def loaded_after(statement: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", f"{statement}; import sys; print({HUB_MODULES})"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    ).stdout.strip()


@pytest.mark.parametrize(
    "statement",
    [
        "import sync.client",
        "import sync",
        "import gate.cli; gate.cli.build_parser()",
        "import gate.sync_worker",
    ],
)
def test_the_gate_side_loads_nothing_of_the_hub(statement: str) -> None:
    assert loaded_after(statement) == "[]"


def test_the_hub_package_is_light() -> None:
    """``import hub`` (what ``gate hub issue`` needs) loads neither the API nor a web
    framework: those are for ``gate hub serve``."""
    loaded = loaded_after("import hub")
    assert "'hub'" in loaded
    for heavy in ("'hub.api'", "'fastapi'", "'uvicorn'"):
        assert heavy not in loaded


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_hub_uses_none_of_the_gate_store() -> None:
    forbidden = (
        "verifier.state_files",
        "verifier.ledger_state",
        "verifier.record_log",
        "verifier.checkpoint",
        "verifier.Checkpoint",
        "verifier.schema",
    )
    for path in sorted((ROOT / "hub").glob("*.py")):
        used = imported_modules(path)
        assert not [m for m in used for f in forbidden if m == f or m.startswith(f + ".")], (
            path.name
        )
        assert "verifier" not in used, f"{path.name}: import from verifier's submodules"


def test_nothing_outside_the_hub_imports_it_but_its_users() -> None:
    """Only ``gate hub`` (lazily), the demo, tests and bench may import the hub."""
    allowed = {
        ROOT / "gate" / "cli" / "hub.py",
        *(ROOT / "gate" / "demo" / name for name in ("hub_part.py", "venue.py", "verdict.py")),
    }
    for package in ("errors", "gate", "verifier", "sync", "scanner", "hardware", "drivers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            uses = {m for m in imported_modules(path) if m == "hub" or m.startswith("hub.")}
            assert not uses or path in allowed, f"{path.relative_to(ROOT)} imports {uses}"
