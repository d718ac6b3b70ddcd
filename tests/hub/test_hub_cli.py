"""``gate hub`` end to end with a sneakernet site: the operator issues from a CSV file,
a gate takes the ledger and gives back its records on a USB stick, exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from ..ledgerkit import code, signer, ticket_id, write_config

ROOT = Path(__file__).resolve().parent.parent.parent


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_operator_commands_and_sneakernet(tmp_path: Path) -> None:
    # The hub's commands sign their blocks at the real time, and a gate does not decide
    # on a clock behind the newest block it holds (clock_behind): the show is now.
    now = int(time.time())
    hub = {"GATEHOUSE_HUB_DIR": str(tmp_path / "hub")}
    init = run("hub", "init", env=hub)
    assert init.returncode == 0
    ledger_key = bytes.fromhex(init.stdout.split('"')[1])
    assert (
        run(
            "hub",
            "event",
            "show",
            "The Show",
            "--starts",
            str(now),
            "--ends",
            str(now + 7200),
            env=hub,
        ).returncode
        == 0
    )
    sale = tmp_path / "sale.csv"
    rows = ["event,holder,from,until,zones,entries,label,ticket"] + [
        f"show,{signer(n).public_key.hex()},{now - 3600},{now + 7200},north;south,1,GA,"
        f"{ticket_id(n)}"
        for n in ("a", "b", "c")
    ]
    sale.write_text("\n".join(rows) + "\n")
    imported = run("hub", "import", str(sale), env=hub)
    assert imported.returncode == 0 and "3 event(s)" in imported.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("event,holder,from,until\nshow,00,soon,later\n")
    refused = run("hub", "import", str(bad), env=hub)
    assert refused.returncode == 2 and "bad.csv:2" in refused.stderr
    assert (
        run("hub", "transfer", ticket_id("b"), signer("b2").public_key.hex(), env=hub).returncode
        == 0
    )
    assert run("hub", "revoke", ticket_id("c"), "refund", env=hub).returncode == 0
    twice = run("hub", "revoke", ticket_id("nobody"), "x", env=hub)
    assert twice.returncode == 1 and "does not exist" in twice.stderr

    # The ledger goes to the gate on a stick (the hub's blocks as a JSONL file).
    from hub import Authority

    with Authority(tmp_path / "hub") as authority:
        (tmp_path / "ledger.jsonl").write_text(
            "".join(line + "\n" for line in authority.blocks_since(-1))
        )
    state = tmp_path / "gate"
    state.mkdir(mode=0o700)
    config = write_config(
        tmp_path / "gate.toml", ledger_key=ledger_key, state_dir=state, zone="north"
    )
    g = {"GATEHOUSE_CONFIG": str(config)}
    assert run("ledger", "apply", str(tmp_path / "ledger.jsonl"), env=g).returncode == 0
    assert run("admit", code("a", now), "--now", str(now), env=g).returncode == 0
    assert (
        json.loads(run("check", code("b", now), "--now", str(now), "--json", env=g).stdout)[
            "reason"
        ]
        == "transferred"
    )
    assert (
        json.loads(run("check", code("c", now), "--now", str(now), "--json", env=g).stdout)[
            "reason"
        ]
        == "revoked"
    )

    # The records come back on a stick; the gate was registered by hand.
    device = json.loads(run("device", "show", "--json", env=g).stdout)
    assert run("hub", "register", "north-1", device["public_key"], env=hub).returncode == 0
    usb = tmp_path / "records.jsonl"
    assert run("records", "export", str(usb), env=g).returncode == 0
    first = run("hub", "records", "import", str(usb), env=hub)
    assert first.returncode == 0 and "1 new, 0 already held" in first.stdout
    again = run("hub", "records", "import", str(usb), env=hub)
    assert again.returncode == 0 and "0 new, 1 already held" in again.stdout
    assert run("hub", "conflicts", env=hub).returncode == 0
    code_line = run("hub", "enrol-code", env=hub).stdout.strip()
    assert len(code_line) == 12
    wallet = json.loads(run("hub", "wallet", "new", env=hub).stdout)
    assert len(wallet["seed"]) == 64 and len(wallet["holder"]) == 64
    missing = run("hub", "init", env={"GATEHOUSE_HUB_DIR": ""})
    assert missing.returncode == 2 and "GATEHOUSE_HUB_DIR" in missing.stderr


def test_the_operator_token_over_http(tmp_path: Path, start_hub) -> None:
    """`gate hub operator-token` prints a token that reads the ledger and the conflicts
    of the running hub; a new one replaces it, and --revoke leaves none."""
    import httpx

    from ..hubkit import seed_hub

    hub_dir = tmp_path / "hub"
    seed_hub(hub_dir)
    env = {"GATEHOUSE_HUB_DIR": str(hub_dir)}
    served = start_hub(hub_dir, heartbeat=0)
    client = httpx.Client(base_url=served.url, timeout=10)

    def reads(token: str) -> list[int]:
        auth = {"Authorization": f"Bearer {token}"}
        return [client.get(p, headers=auth).status_code for p in ("/v1/blocks", "/v1/conflicts")]

    made = run("hub", "operator-token", env=env)
    first = made.stdout.strip()
    assert made.returncode == 0 and len(first) >= 40 and "Authorization: Bearer" in made.stderr
    # Only its hash is kept. (Read through SQLite: reading hub.db's bytes in this process
    # would drop the POSIX locks the in-process server's connection holds on it.)
    with closing(sqlite3.connect(hub_dir / "hub.db")) as db:
        kept = db.execute("SELECT sha256 FROM operator_token").fetchall()
    assert kept == [(hashlib.sha256(first.encode()).hexdigest(),)]
    assert reads(first) == [200, 200]
    second = run("hub", "operator-token", env=env).stdout.strip()
    assert second != first and reads(first) == [401, 401] and reads(second) == [200, 200]
    revoked = run("hub", "operator-token", "--revoke", env=env)
    assert revoked.returncode == 0 and "withdrawn" in revoked.stdout
    assert reads(second) == [401, 401]
    assert "no operator token" in run("hub", "operator-token", "--revoke", env=env).stdout
