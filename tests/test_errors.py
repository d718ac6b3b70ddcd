"""One exception tree: every error the project raises is in ``errors`` or derives from it.

The tree is what the CLI, the daemon and the steward console catch; an error raised
as a bare ``ValueError`` somewhere would slip past ``except GatehouseError`` and reach
a technician as a traceback. The check reads the source (``ast``), so it covers code
paths no other test happens to run.
"""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
from pathlib import Path

import errors

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("errors", "drivers", "verifier", "scanner", "hardware", "sync", "hub", "gate")
#: Built-ins a module may still raise: an impossible branch, an abstract method left to
#: subclasses, and the interpreter's own protocols (a module's ``__getattr__``).
ALLOWED_BUILTINS = {
    "AssertionError",
    "AttributeError",
    "NotImplementedError",
    "KeyboardInterrupt",
    "SystemExit",
    "StopIteration",
}


def _sources() -> list[Path]:
    return sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if (ROOT / pkg).is_dir()
    )


def _raised_names(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                found.append((node.lineno, target.id))
    return found


def test_no_module_raises_a_builtin_exception():
    builtin_errors = {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: raise {name}"
        for path in _sources()
        for line, name in _raised_names(ast.parse(path.read_text(), str(path)))
        if name in builtin_errors - ALLOWED_BUILTINS
    ]
    assert not offenders, "raise an error from errors/ instead:\n" + "\n".join(offenders)


def test_the_tree_in_the_docstring_names_every_class():
    classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.GatehouseError)
    }
    drawn = {
        word for line in errors.__doc__.splitlines() for word in line.split() if word in classes
    }
    assert classes == drawn
    assert set(errors.__all__) == classes


def test_each_class_is_also_the_builtin_it_resembles():
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.BadDriverURL, errors.ConfigError)
    assert issubclass(errors.BadDriverURL, errors.DriverError)
    assert issubclass(errors.DriverUnavailable, ImportError)
    assert issubclass(errors.DeviceUnavailable, OSError)
    assert issubclass(errors.DeviceClosed, ValueError)
    assert issubclass(errors.TokenRejected, errors.LedgerError)
    assert issubclass(errors.ForkDetected, errors.BlockRejected)
    assert issubclass(errors.StoreCorrupt, RuntimeError)
    assert issubclass(errors.SyncError, ConnectionError)
    assert issubclass(errors.HubRefusal, errors.SyncError)
    assert errors.HubRefusal(409, "replay").status == 409


def test_importing_errors_imports_nothing_of_the_project_or_crypto():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, errors; print(sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('nacl', 'verifier', 'drivers', 'gate', 'sync', 'hub')))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "[]"
