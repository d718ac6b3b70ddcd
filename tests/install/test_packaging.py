"""What a built wheel holds besides modules: every file in a package directory that is
not Python must be named in pyproject's package-data, or an installed unit (install.sh
builds a wheel; only the checkout's editable install sees the tree) runs without it, as
the steward console once would have without its stylesheet."""

from __future__ import annotations

import fnmatch
import tomllib

from .wheelkit import ROOT

PACKAGES = ("errors", "gate", "verifier", "scanner", "hardware", "drivers", "sync", "hub")


def test_every_data_file_in_a_package_is_in_package_data() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_data: dict[str, list[str]] = setuptools.get("package-data", {})
    missing = []
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            package = ".".join(path.parent.relative_to(ROOT).parts)
            patterns = package_data.get(package, []) + package_data.get("*", [])
            if not any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns):
                missing.append(path.relative_to(ROOT).as_posix())
    assert missing == []
