"""``gate doctor`` as a technician runs it: the real command in a subprocess, on a
provisioned unit against a real hub, healthy and then with two real failures."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gate.doctor import CHECKS
from gate.doctor.hub import clock_synchronised

from ..clikit import gate
from .conftest import Unit, tree_hash

LINE = re.compile(r"(OK  |WARN|FAIL|SKIP) (\S.*?)  (\S.*)\Z")


def doctor(unit: Unit, *args: str) -> tuple[int, str, str]:
    result = gate(unit.config, "doctor", "--boot-config", str(unit.boot), *args)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.returncode, result.stdout, result.stderr


def statuses(stdout: str) -> dict[str, str]:
    return {item["check"]: item["status"] for item in json.loads(stdout)}


def test_a_healthy_unit(unit: Unit) -> None:
    """Everything OK but what this machine cannot give: no systemd, so services are
    unknown (WARN), and the clock WARNs when this machine's own clock is unsynchronised.
    Exit 1 for those, and the state directory untouched."""
    before = tree_hash(unit.state)
    code, out, _ = doctor(unit)
    assert tree_hash(unit.state) == before
    lines = out.splitlines()
    assert "\033[" not in out  # piped: no colour
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), out
    names = [m.group(2).strip() for m in parsed if m]
    assert names == ["config", *CHECKS[:8], "relay", "green", "red", *CHECKS[9:]]
    width = {line.index(m.group(3)) for line, m in zip(lines, parsed, strict=True) if m}
    assert len(width) == 1  # the findings start in one column
    expected = {"services": "WARN"}
    if clock_synchronised()[0] is not True:
        expected["clock"] = "WARN"
    warned = {m.group(2).strip(): m.group(1).strip() for m in parsed if m and m.group(1) != "OK  "}
    assert warned == expected, out
    assert code == 1
    services = next(line for line in lines if line.startswith("WARN services"))
    assert " — do: " in services

    code, out, _ = doctor(unit, "--json")
    items = json.loads(out)
    assert all(set(item) == {"check", "status", "detail", "fix"} for item in items)
    assert all((item["fix"] is None) == (item["status"] == "OK") for item in items)
    assert {k: v for k, v in statuses(out).items() if v != "OK"} == expected
    assert code == 1
    assert tree_hash(unit.state) == before


def test_a_world_readable_key_exits_2(unit: Unit) -> None:
    (unit.state / "device.key").chmod(0o644)
    code, out, _ = doctor(unit, "--json")
    assert code == 2
    [perm] = [i for i in json.loads(out) if i["check"] == "permissions"]
    assert perm["status"] == "FAIL" and perm["fix"].startswith("chmod 600 ")
    assert oct((unit.state / "device.key").stat().st_mode & 0o777) == oct(0o644)  # not fixed


def test_a_stopped_hub_exits_2(unit: Unit) -> None:
    assert unit.hub is not None
    unit.hub.stop()
    code, out, _ = doctor(unit)
    assert code == 2
    [hub] = [line for line in out.splitlines() if line.startswith("FAIL hub")]
    assert unit.hub.url in hub and "unreachable" in hub and " — do: check the network" in hub


def test_a_broken_config_and_a_bad_timeout(tmp_path: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text('device = "north 1"\n')
    result = gate(config, "doctor", "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    items = json.loads(result.stdout)
    assert items[0]["check"] == "config" and items[0]["status"] == "FAIL"
    assert str(config) in items[0]["detail"]
    assert [i["status"] for i in items[1:]] == ["SKIP"] * len(CHECKS)
    result = gate(config, "doctor", "--timeout", "0")
    assert result.returncode == 2 and "--timeout must be more than 0" in result.stderr
