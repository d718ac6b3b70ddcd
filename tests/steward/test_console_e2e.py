"""The console against a real lane: ``gate run`` in a subprocess on a ``synthetic:`` camera
showing wallets' live codes, sim outputs, and the real control socket and client.

One steward's shift in one test, in the order it happens at a gate: decisions come in,
the counters and health move, a ticket is looked up by id and by label, someone is let
through by hand, the lane is closed and then held open for an evacuation, and the daemon
restarts under the console, which carries on.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("textual")

from gate.control_client import ControlClient
from gate.steward.app import StewardApp

from ..clikit import gate
from ..lanekit import Lane
from ..ledgerkit import ticket_id
from .conftest import screen_text
from .conftest import until as wait_until

pytestmark = pytest.mark.anyio

#: Three wallets of the lane's ledger (tests/ledgerkit.py names): two honest, and t3's
#: seller still showing a code for a ticket sold on. Clean frames, a few a second.
CAMERA = (
    "synthetic:?wallets=t0,t1,t3&namespace=test&fps=4&degrade=none&empty=0.25&multi=0"
    "&width=640&height=480"
)


def journal(lane: Lane, event: str) -> list[dict]:
    with lane._cond:
        return [e for e in lane.journal if e["event"] == event]


def override_notes(lane: Lane) -> list[str]:
    exported = gate(lane.config, "records", "export", "-")
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in exported.stdout.splitlines()]
    return [r["note"] for r in records if r["reason"] == "override"]


async def test_a_shift_at_a_real_lane(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="gh-e2e-") as short:
        lane = Lane(tmp_path, socket_path=Path(short) / "control.sock", camera=CAMERA)
        try:
            await _shift(lane)
        finally:
            err = lane.close()
    assert lane.proc.returncode == 0, err


async def _shift(lane: Lane) -> None:
    app = StewardApp(
        lambda: ControlClient(lane.socket, timeout=2.0),
        socket_path=str(lane.socket),
        steward="Alice",
        blink=False,
        retry=0.2,
        silence=3.0,
    )
    notified: list[str] = []
    plain_notify = app.notify
    app.notify = lambda message, **kw: (notified.append(message), plain_notify(message, **kw))[1]
    async with app.run_test(size=(80, 24)) as pilot:

        async def until(_: object, condition: Callable[[], bool], timeout: float = 5.0) -> None:
            """As conftest's, and a timeout shows the screen and the journal's tail."""
            try:
                await wait_until(pilot, condition, timeout)
            except AssertionError:
                tail = [(e["event"], e.get("reason")) for e in list(lane.journal)][-12:]
                tail += [f"notified: {n}" for n in notified]
                tail += [f"worker {w.name}: {w.state}" for w in app.workers]
                raise AssertionError(
                    f"timed out; journal tail {tail}; screen:\n{screen_text(app)}"
                ) from None

        # Decisions appear: both honest wallets admitted, the seller's code refused.
        await until(pilot, lambda: app.device == "north-1", timeout=20)
        await until(
            pilot, lambda: {d["reason"] for d in app.decisions} >= {"ok", "transferred"}, 30
        )
        await until(pilot, lambda: app.status["counters"]["admitted"] >= 2, 10)
        await pilot.pause()
        text = screen_text(app)
        assert "ADMITTED" in text or "REFUSED" in text
        assert "admitted" in text and "per minute" in text

        # Health from the daemon: the ledger held, the decoder, a camera rate.
        health = app.status["health"]
        assert health["ledger_height"] == 2 and health["decoder"] == "zxing"
        await until(pilot, lambda: (app.status["health"]["camera_fps"] or 0) > 0, 10)
        await pilot.pause()
        assert "ledger #2" in screen_text(app) and "zxing" in screen_text(app)

        # Lookup by id, then by label.
        await pilot.press("l", *ticket_id("t3"), "enter")
        await until(pilot, lambda: bool(app.screen.found), 10)
        await pilot.pause()
        text = screen_text(app)
        assert f"ticket {ticket_id('t3')}" in text and "at ledger height" in text
        app.screen.query_one("#query").value = ""
        await pilot.press(*"box 7", "enter")
        await until(pilot, lambda: app.screen.query_text == "box 7" and app.screen.found, 10)
        await pilot.pause()
        assert "Box 7" in screen_text(app) and ticket_id("t2") in screen_text(app)
        await pilot.press("escape")

        # Open once for t2 by its label: a signed override whose note names Alice.
        pulses_before = lane.relay_states().count(True)
        await pilot.press("o", *"wheelchair gate", "enter", *"Box 7", "enter")
        await until(pilot, lambda: bool(journal(lane, "override")), 15)
        assert override_notes(lane) == ["Alice: wheelchair gate"]
        assert journal(lane, "override")[0]["ticket"] == ticket_id("t2")
        await until(pilot, lambda: lane.relay_states().count(True) > pulses_before, 10)

        # Closed: the daemon refuses the codes it sees with lane_closed.
        await pilot.press("c", *"drill", "enter")
        await until(pilot, lambda: "CLOSED" in screen_text(app), 15)
        await until(
            pilot,
            lambda: any(d["reason"] == "lane_closed" for d in journal(lane, "decision")),
            30,
        )
        await until(pilot, lambda: app.decisions[0]["reason"] == "lane_closed", 15)

        # Free: the turnstile is held open.
        await pilot.press("f", *"evacuation", "enter")
        await until(pilot, lambda: app.status["mode"] == "free", 15)
        await until(pilot, lambda: app.status["health"]["relay"] == "open", 10)
        assert lane.relay_states()[-1] is True
        await pilot.press("n", *"all clear", "enter")
        await until(pilot, lambda: app.status["mode"] == "normal", 15)
        assert [(m["mode"], m["by"], m["reason"]) for m in journal(lane, "mode")] == [
            ("closed", "Alice", "drill"),
            ("free", "Alice", "evacuation"),
            ("normal", "Alice", "all clear"),
        ]

        # The daemon restarts under the console: it says so, then carries on.
        newest = app.decisions[0]
        lane.stop()
        await until(pilot, lambda: app.device is None, 15)
        await pilot.pause()
        assert "lane daemon not reachable at" in screen_text(app)
        lane.start()
        await until(pilot, lambda: app.device == "north-1", 30)
        await until(pilot, lambda: bool(app.decisions) and app.decisions[0] is not newest, 30)
        await pilot.pause()
        assert "not reachable" not in screen_text(app)
