"""``gate scan``: decode image files with the real decoder and decide every code found."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from scanner.render import render_frame

from ..ledgerkit import code, ticket_id
from .test_daemon_e2e import daemon_config, gate, live_ledger


def test_scan_images_json(tmp_path: Path) -> None:
    now = int(time.time())
    kit = live_ledger(now, ["t0", "t1"])
    config = daemon_config(tmp_path, kit, "images:unused")
    assert gate(config, "ledger", "apply", str(tmp_path / "ledger.jsonl")).returncode == 0
    rng = np.random.default_rng(3)
    two = tmp_path / "two.png"
    cv2.imwrite(
        str(two),
        render_frame(
            [code("t0", now), code("t1", now - 300)], rng, (1280, 720), degradations=()
        ).image,
    )
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), render_frame([], rng, (640, 480), degradations=()).image)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")

    dry = gate(config, "scan", str(two), str(empty), str(broken), "--json")
    lines = [json.loads(x) for x in dry.stdout.splitlines()]
    assert [x["image"] for x in lines] == [str(two), str(empty), str(broken)]
    codes = sorted(lines[0]["codes"], key=lambda c: c["reason"])
    assert [(c["reason"], c["ticket"]) for c in codes] == [
        ("expired_code", ticket_id("t1")),
        ("ok", ticket_id("t0")),
    ]
    assert lines[0]["ms"] > 0 and lines[1]["codes"] == []
    assert "error" in lines[2] and dry.returncode == 2
    assert "Traceback" not in dry.stderr
    status = json.loads(gate(config, "ledger", "status", "--json").stdout)
    assert status["records"] == 0  # dry unless --admit

    admit = gate(config, "scan", str(two), "--admit", "--json")
    assert admit.returncode == 1  # one of the two codes was refused
    assert json.loads(gate(config, "ledger", "status", "--json").stdout)["records"] == 2
    text = gate(config, "scan", str(two))
    assert "already_used" in text.stdout and "expired_code" in text.stdout
