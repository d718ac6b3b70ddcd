"""The real ``gate`` CLI in subprocesses: outputs, exit codes, and bad input.

Bad input must give one line on stderr naming what is wrong, a non-zero exit where
appropriate, never a traceback, and leave the stored state exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import VECTOR_SCENARIO
from .ledgerkit import NOW, VECTORS, code, simple_ledger, write_config


def tree_digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def one_line_error(result) -> str:
    err = result.stderr.decode()
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture
def vector_config(tmp_path: Path, state_dir: Path) -> Path:
    g = VECTOR_SCENARIO["gate"]
    return write_config(
        tmp_path / "gate.toml",
        ledger_key=bytes.fromhex(VECTOR_SCENARIO["ledger_key"]),
        state_dir=state_dir,
        device=g["device"],
        events=tuple(g["events"]),
        zone=g["zone"],
    )


@pytest.fixture
def applied(gate_cli, vector_config: Path) -> Path:
    result = gate_cli("-c", str(vector_config), "ledger", "apply", str(VECTORS / "ledger.jsonl"))
    assert result.returncode == 0, result.stderr
    return vector_config


def test_vector_steps_through_the_cli(gate_cli, applied: Path) -> None:
    steps = VECTOR_SCENARIO["steps"]
    # Batch each run of same-op steps through `TOKEN = -`, the scanner's path.
    i = 0
    while i < len(steps):
        j = i
        while (
            j < len(steps)
            and steps[j]["op"] == steps[i]["op"]
            and steps[j]["now"] == steps[i]["now"]
        ):
            j += 1
        batch = steps[i:j]
        stdin = "".join(s["token"] + "\n" for s in batch).encode()
        result = gate_cli(
            batch[0]["op"],
            "-",
            "--json",
            "--now",
            str(batch[0]["now"]),
            stdin=stdin,
            config=applied,
        )
        decisions = [json.loads(line) for line in result.stdout.decode().splitlines()]
        assert [d["reason"] for d in decisions] == [s["expect"] for s in batch]
        assert result.returncode == (0 if all(s["expect"] == "ok" for s in batch) else 1)
        i = j


def test_admit_json_and_exit_codes(gate_cli, applied: Path) -> None:
    token = VECTOR_SCENARIO["steps"][-3]["token"]  # an "ok" step
    now = str(VECTOR_SCENARIO["steps"][-3]["now"])
    first = gate_cli("admit", token, "--now", now, "--json", config=applied)
    assert first.returncode == 0
    d = json.loads(first.stdout)
    assert d["result"] == "admitted" and d["reason"] == "ok" and d["seq"] == 1
    assert d["ticket"] and d["event"] == "pub-expo" and d["label"] == "GA"
    again = gate_cli("admit", token, "--now", now, "--json", config=applied)
    assert again.returncode == 1
    d2 = json.loads(again.stdout)
    assert d2["reason"] in ("already_used", "replayed")
    text = gate_cli("check", token, "--now", now, config=applied)
    assert text.returncode == 1 and text.stdout.decode().startswith("REJECTED ticket ")


def test_already_used_says_when_and_where(gate_cli, applied: Path) -> None:
    # Ticket 43dbc31b… was redeemed by south-2 at 1789999410 (ledger block 2).
    step = next(s for s in VECTOR_SCENARIO["steps"] if s["expect"] == "already_used")
    d = json.loads(
        gate_cli("check", step["token"], "--now", str(step["now"]), "--json", config=applied).stdout
    )
    assert (d["first_device"], d["first_at"]) == ("south-2", 1789999410)


def test_ledger_status_and_device_show(gate_cli, applied: Path) -> None:
    status = json.loads(gate_cli("ledger", "status", "--json", config=applied).stdout)
    assert status["height"] == 3 and status["head"] == VECTOR_SCENARIO["ledger_head"]
    assert (status["events"], status["tickets"], status["revoked"]) == (2, 13, 1)
    assert status["time"] == 1789999980
    device = json.loads(gate_cli("device", "show", "--json", config=applied).stdout)
    assert device["device"] == "north-1" and len(device["public_key"]) == 64


def test_empty_ledger_status(gate_cli, vector_config: Path) -> None:
    status = json.loads(gate_cli("-c", str(vector_config), "ledger", "status", "--json").stdout)
    assert status["height"] == -1 and status["head"] == "0" * 64 and status["tickets"] == 0


def test_records_export_to_file_and_stdout(gate_cli, applied: Path, tmp_path: Path) -> None:
    for s in VECTOR_SCENARIO["steps"][:5]:
        gate_cli("admit", s["token"], "--now", str(s["now"]), config=applied)
    out = tmp_path / "usb" / "records.jsonl"
    out.parent.mkdir()
    assert gate_cli("records", "export", str(out), config=applied).returncode == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 5
    piped = gate_cli("records", "export", "--since", "2", "-", config=applied)
    assert piped.stdout.decode().splitlines() == lines[2:]


def test_records_export_into_head_exits_0(gate_cli, applied: Path) -> None:
    """``gate records export - | head -1``: the reader leaves after one line, long before
    the export is written; the gate ends quietly with 0, not a BrokenPipeError traceback
    (nor Python's exit code 120 for a failed flush at exit)."""
    junk = "".join(f"not-a-token-{i}\n" for i in range(1500)).encode()
    admitted = gate_cli("admit", "-", stdin=junk, config=applied, timeout=300)
    assert admitted.returncode == 1, admitted.stderr  # every one rejected, and recorded
    env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_CONFIG"}
    with (
        subprocess.Popen(
            [sys.executable, "-m", "gate", "-c", str(applied), "records", "export", "-"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        ) as export,
        subprocess.Popen(["head", "-1"], stdin=export.stdout, stdout=subprocess.PIPE) as head,
    ):
        assert export.stdout is not None
        export.stdout.close()  # head holds the only reading end now
        first, _ = head.communicate(timeout=60)
        err = export.stderr.read().decode() if export.stderr else ""
        code = export.wait(timeout=60)
    assert json.loads(first)["seq"] == 1
    assert head.returncode == 0
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_config_check(gate_cli, vector_config: Path, state_dir: Path) -> None:
    before = tree_digest(state_dir)
    ok = gate_cli("-c", str(vector_config), "config", "check")
    assert ok.returncode == 0 and "ok" in ok.stdout.decode()
    assert tree_digest(state_dir) == before == {}  # no side effects: no key, no database


# -- bad input ---------------------------------------------------------------------------


def test_huge_token_nul_bytes_and_invalid_utf8(gate_cli, applied: Path, state_dir: Path) -> None:
    huge = "GH1:" + "A" * 100_000
    result = gate_cli("check", huge, "--json", config=applied)
    assert result.returncode == 1 and json.loads(result.stdout)["reason"] == "malformed"
    stdin = (
        b"GH1:\x00\x00\x00\n"
        + b"GH1:\xff\xfe\xfd"
        + b"A" * 126
        + b"\n"
        + b"\x00\n"
        + b"GH1:"
        + b"B" * 200_000
        + b"\n"
        + b"\xc3\x28\n"
    )
    before = tree_digest(state_dir)
    result = gate_cli("check", "-", "--json", stdin=stdin, config=applied)
    assert "Traceback" not in result.stderr.decode()
    reasons = [json.loads(line)["reason"] for line in result.stdout.decode().splitlines()]
    assert reasons == ["malformed", "malformed", "not_a_ticket", "malformed", "not_a_ticket"]
    assert result.returncode == 1
    assert tree_digest(state_dir) == before  # a dry run records nothing
    admitted = gate_cli("admit", "-", "--json", stdin=stdin, config=applied)
    assert len(admitted.stdout.decode().splitlines()) == 5  # each refusal is recorded
    status = json.loads(gate_cli("ledger", "status", "--json", config=applied).stdout)
    assert status["records"] == 5


def test_ledger_file_with_a_garbage_line(
    gate_cli, vector_config: Path, tmp_path: Path, state_dir: Path
) -> None:
    lines = (VECTORS / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(lines[0] + lines[1] + b"\x89PNG garbage {{{\n" + lines[2])
    result = gate_cli("-c", str(vector_config), "ledger", "apply", str(bad))
    assert result.returncode == 1
    err = one_line_error(result)
    assert "bad.jsonl:3" in err and "not a block" in err
    status = json.loads(gate_cli("-c", str(vector_config), "ledger", "status", "--json").stdout)
    assert status["height"] == 1
    before = tree_digest(state_dir)
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_bytes(lines[2][: len(lines[2]) // 2])
    result = gate_cli("-c", str(vector_config), "ledger", "apply", str(truncated))
    assert result.returncode == 1 and "truncated.jsonl:1" in one_line_error(result)
    assert _same_db(before, tree_digest(state_dir))


def _same_db(before: dict[str, str], after: dict[str, str]) -> bool:
    """The database and key files are unchanged (the WAL may be checkpointed on close)."""
    keep = ("device.key",)
    return all(before.get(k) == after.get(k) for k in keep) and set(before) >= {"ledger.db"}


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('colour = "red"\n', "unknown key 'colour'"),
        ("back = -1\n", "key 'back'"),
        ('fwd = "1"\n', "key 'fwd'"),
        ("zone = 3\n", "key 'zone'"),
        ("this is not toml\n", "not valid TOML"),
    ],
)
def test_bad_config(gate_cli, vector_config: Path, toml: str, needle: str) -> None:
    key = toml.split("=")[0].strip()
    kept = [ln for ln in vector_config.read_text().splitlines() if not ln.startswith(key + " ")]
    vector_config.write_text("\n".join(kept) + "\n" + toml)
    for args in (["config", "check"], ["ledger", "status"], ["check", "x"]):
        result = gate_cli("-c", str(vector_config), *args)
        assert result.returncode == 2
        err = one_line_error(result)
        assert needle in err and str(vector_config) in err


@pytest.mark.parametrize("key", ["device", "ledger_key", "state_dir", "events"])
def test_missing_required_key(gate_cli, vector_config: Path, key: str) -> None:
    kept = [ln for ln in vector_config.read_text().splitlines() if not ln.startswith(key)]
    vector_config.write_text("\n".join(kept) + "\n")
    result = gate_cli("-c", str(vector_config), "config", "check")
    assert result.returncode == 2
    assert f"missing required key '{key}'" in one_line_error(result)


def test_no_config_at_all(gate_cli, tmp_path: Path) -> None:
    result = gate_cli("ledger", "status")
    assert result.returncode == 2 and "GATEHOUSE_CONFIG" in one_line_error(result)
    result = gate_cli("-c", str(tmp_path / "absent.toml"), "ledger", "status")
    assert result.returncode == 2 and "absent.toml" in one_line_error(result)


def test_missing_state_dir(gate_cli, tmp_path: Path) -> None:
    kit = simple_ledger(1)
    config = write_config(
        tmp_path / "gate.toml", ledger_key=kit.key, state_dir=tmp_path / "not-there"
    )
    for args in (
        ["ledger", "status"],
        ["admit", code("t0"), "--now", str(NOW)],
        ["device", "show"],
        ["config", "check"],
    ):
        result = gate_cli("-c", str(config), *args)
        assert result.returncode == 2
        assert "not-there" in one_line_error(result)
    assert not (tmp_path / "not-there").exists()


def test_damaged_database(gate_cli, applied: Path, state_dir: Path, tmp_path: Path) -> None:
    db = state_dir / "ledger.db"
    data = bytearray(db.read_bytes())
    data[:16] = b"\x00" * 16
    db.write_bytes(bytes(data))
    for name in os.listdir(state_dir):
        if name.endswith(("-wal", "-shm")):
            os.unlink(state_dir / name)
    before = tree_digest(state_dir)
    for args in (
        ["ledger", "status"],
        ["admit", "GH1:x"],
        ["ledger", "apply", str(VECTORS / "ledger.jsonl")],
    ):
        result = gate_cli(*args, config=applied)
        assert result.returncode == 3
        err = one_line_error(result)
        assert str(db) in err and "damaged" in err
    assert tree_digest(state_dir) == before


def test_unsafe_device_key(gate_cli, applied: Path, state_dir: Path) -> None:
    key = state_dir / "device.key"
    key.chmod(0o644)
    result = gate_cli("device", "show", config=applied)
    assert result.returncode == 3 and "chmod 600" in one_line_error(result)
    key.chmod(0o600)
    key.write_text("not hex\n")
    result = gate_cli("device", "show", config=applied)
    assert result.returncode == 3 and "damaged" in one_line_error(result)


def test_state_of_another_device(gate_cli, applied: Path, tmp_path: Path, state_dir: Path) -> None:
    other = tmp_path / "other.toml"
    shutil.copy(applied, other)
    other.write_text(other.read_text().replace('device = "north-1"', 'device = "south-9"'))
    result = gate_cli("-c", str(other), "ledger", "status")
    assert result.returncode == 2 and "north-1" in one_line_error(result)


def test_usage_errors_exit_2(gate_cli, applied: Path) -> None:
    for args in (["frobnicate"], ["check"], ["check", "x", "--now", "soon"], []):
        result = gate_cli(*args, config=applied)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr.decode()


def test_missing_ledger_file(gate_cli, applied: Path, tmp_path: Path) -> None:
    result = gate_cli("ledger", "apply", str(tmp_path / "nope.jsonl"), config=applied)
    assert result.returncode == 2 and "nope.jsonl" in one_line_error(result)


@pytest.mark.parametrize("what", ["key", "state_dir", "foreign_file"])
def test_unsafe_state_stops_run_and_admit_with_the_fix(
    gate_cli, applied: Path, state_dir: Path, tmp_path: Path, what: str
) -> None:
    """A key or state others may read stops the lane (exit 3) and names the fix; it is
    checked at every open, before anything is decided or written."""
    key = state_dir / "device.key"
    if what == "key":
        key.chmod(0o644)
        fix = f"chmod 600 {key}"
    elif what == "state_dir":
        state_dir.chmod(0o755)
        fix = f"chmod 700 {state_dir}"
    else:
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user needs root")
        os.chown(state_dir / "records.db", 65534, 65534)
        fix = f"chown -R {os.getuid()}:{os.getgid()} {state_dir}"
    before = tree_digest(state_dir)
    extra = (
        f'\n[camera]\nurl = "synthetic:?fps=1"\n[relay]\nurl = "sim:relay"\n'
        f'[control]\nsocket = "{tmp_path / "c.sock"}"\ngroup = "root"\n'
    )
    applied.write_text(applied.read_text() + extra)
    for args in (["admit", "GH1:x"], ["run"]):
        result = gate_cli(*args, config=applied)
        assert result.returncode == 3, (args, result.stderr)
        err = one_line_error(result)
        assert fix in err, err
    assert tree_digest(state_dir) == before
