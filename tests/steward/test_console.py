"""The console driven by keys (Textual's Pilot) against a fake daemon on a real socket.

Each test reads what a steward would read (the screen's text) and what the daemon
received (its recorded requests), never the app's internals alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.reasons import DECISION_REASONS

from .conftest import make_app, screen_text, until
from .fake_daemon import NOW, TICKET, FakeDaemon, decision

pytestmark = pytest.mark.anyio


async def _live(pilot, app) -> None:
    """Connected, with a status, and that status drawn (widgets update on the next pass)."""
    await until(pilot, lambda: app.device is not None and app.status is not None)
    await pilot.pause()


async def test_decisions_show_as_a_banner_and_a_recent_list(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        assert "waiting for the first scan" in screen_text(app)
        daemon.push(decision("ok", at=1_789_999_950))
        await until(pilot, lambda: len(app.decisions) == 1)
        await pilot.pause()
        assert "✔ ADMITTED — GA, pub-expo" in screen_text(app)
        assert app.screen.query_one("#banner").has_class("admitted")

        daemon.push(decision("expired_code"))
        await until(pilot, lambda: len(app.decisions) == 2)
        await pilot.pause()
        text = screen_text(app)
        assert "✘ REFUSED — this code is a screenshot that has expired" in text
        assert app.screen.query_one("#banner").has_class("refused")
        assert "14:13:20 ✘ GA code is too old" in text  # the recent list, newest first
        assert "14:12:30 ✔ GA admitted" in text
        assert text.index("14:13:20 ✘ GA") < text.index("14:12:30 ✔ GA")


async def test_already_used_says_when_and_where_first(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        daemon.push(decision("already_used"))
        await until(pilot, lambda: len(app.decisions) == 1)
        await pilot.pause()
        assert "first admitted 14:03:20 at south-2" in screen_text(app)


async def test_counters_and_health_follow_status_events(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        text = screen_text(app)
        assert "admitted   120" in text and "11.4 (last 5 min)" in text
        assert "#41, 12 s old" in text and "29.8 fps zxing" in text

        counters = dict(daemon.status["counters"], admitted=121, entries_per_minute=12.0)
        counters["refused_by_reason"] = {"expired_code": 5, "already_used": 3}
        health = dict(daemon.status["health"], hub="unreachable", upload_backlog=40)
        daemon.push_status(counters=counters, health=health)
        await until(pilot, lambda: app.status["counters"]["admitted"] == 121)
        await pilot.pause()
        text = screen_text(app)
        assert "admitted   121" in text and "12.0 (last 5 min)" in text
        assert "5 expired code" in text
        assert "hub unreachable ⚠" in text and "backlog 40" in text


async def test_alarms_are_listed_with_what_to_do(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        assert not app.screen.query_one("#alarms").display
        # as the real daemon: the event at once, and the alarm in every status after it
        daemon.status["alarms"] = [{"alarm": "clock_skew", "detail": "41 s", "since": NOW}]
        daemon.push({"type": "alarm", "alarm": "clock_skew", "detail": "41 s", "time": NOW})
        await until(pilot, lambda: bool(app.status.get("alarms")))
        await pilot.pause()
        assert app.screen.query_one("#alarms").display
        shown = str(app.screen.query_one("#alarms").content)
        assert "⚠ clock_skew since 14:13:20: 41 s" in shown
        assert "Call: A technician, now: the gate's time sync must be fixed." in shown
        daemon.status["alarms"] = []
        daemon.push({"type": "alarm_cleared", "alarm": "clock_skew", "time": NOW})
        await until(pilot, lambda: not app.status.get("alarms"))
        await pilot.pause()
        assert not app.screen.query_one("#alarms").display


async def test_lookup_by_id_and_by_label(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        await pilot.press("l")
        await pilot.press(*TICKET["ticket"], "enter")
        await until(pilot, lambda: app.screen.found is not None)
        text = screen_text(app)
        assert f"ticket {TICKET['ticket']}" in text
        assert "zones: north" in text and "1 used of 1, 0 left" in text
        assert "from a1b2c3d4e5f60718 at ledger height 12" in text
        assert "revoked: no" in text and "at north-1 (record 14)" in text

        field = app.screen.query_one("#query")
        field.value = ""
        await pilot.press(*"ga", "enter")
        await until(pilot, lambda: daemon.commands("lookup")[-1:] == [daemon.requests[-1]])
        await until(pilot, lambda: app.screen.query_text == "ga")
        assert "GA · pub-expo" in screen_text(app)
        assert [r["query"] for r in daemon.commands("lookup")] == [TICKET["ticket"], "ga"]

        field.value = ""
        await pilot.press(*"vip", "enter")
        await until(pilot, lambda: app.screen.query_text == "vip")
        assert "No ticket matches 'vip'" in screen_text(app)
        await pilot.press("escape")
        assert app.screen.id != "lookup" and app.screen.query("#banner")


async def test_open_once_sends_name_reason_and_ticket(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        await pilot.press("o")
        await pilot.press("enter", "enter")  # reason empty: refused in the dialog
        await pilot.pause()
        assert "A reason is required." in screen_text(app)
        assert daemon.commands("open_once") == []

        app.screen.query_one("#reason").focus()
        await pilot.press(*"wheelchair", "enter", *"GA", "enter")
        await until(pilot, lambda: bool(daemon.commands("open_once")))
        sent = daemon.commands("open_once")[0]
        assert (sent["as"], sent["reason"], sent["ticket"]) == ("Alice", "wheelchair", "GA")


async def test_open_once_without_a_ticket_leaves_it_out(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        await pilot.press("o", *"lost phone", "enter", "enter")
        await until(pilot, lambda: bool(daemon.commands("open_once")))
        assert "ticket" not in daemon.commands("open_once")[0]


async def test_mode_changes_only_after_confirmation(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        await pilot.press("c")
        await pilot.pause()
        assert "Set the lane to CLOSED?" in screen_text(app)
        await pilot.press("escape")  # cancelled: nothing sent
        await pilot.press("c", "enter")  # no reason: refused in the dialog
        await pilot.pause()
        assert "A reason is required." in screen_text(app)
        assert daemon.commands("mode") == []

        await pilot.press(*"evacuation drill", "enter")
        await until(pilot, lambda: bool(daemon.commands("mode")))
        sent = daemon.commands("mode")[0]
        assert (sent["mode"], sent["as"], sent["reason"]) == ("closed", "Alice", "evacuation drill")
        await until(pilot, lambda: "CLOSED" in screen_text(app))


async def test_a_refused_command_is_a_notification_not_a_crash(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path), steward="")
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        app.pop_screen()  # skip the name: the daemon refuses an override without one
        app.command("open_once", {"as": "", "reason": "x"})
        await until(
            pilot, lambda: any("needs a non-empty" in n.message for n in app._notifications)
        )


async def test_the_name_is_asked_once_when_not_given(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path), steward=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Who is on duty at this lane?" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert "A name is needed." in screen_text(app)
        await pilot.press(*"Bo", "enter")
        await pilot.pause()
        assert app.steward == "Bo" and "steward Bo" in screen_text(app)


async def test_help_lists_every_reason_and_alarm(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = str(app.screen.query_one("#help-text").content)
        for code in DECISION_REASONS:
            assert f" {code} — " in help_text, code
        for alarm in ("camera", "ledger_stale", "clock_skew", "hub_unreachable", "hub_refused"):
            assert f"⚠ {alarm}" in help_text
        await pilot.press("escape")
        assert app.screen.query("#banner")


async def test_the_console_survives_the_daemon_restarting(daemon: FakeDaemon) -> None:
    app = make_app(Path(daemon.path))
    async with app.run_test(size=(80, 24)) as pilot:
        await _live(pilot, app)
        daemon.stop()
        await until(pilot, lambda: app.device is None)
        await pilot.pause()
        note = app.screen.query_one("#linknote")
        assert note.display and "lane daemon not reachable at" in screen_text(app)
        assert str(note.content) == f"⚠ lane daemon not reachable at {daemon.path} — retrying"
        assert app.screen.has_class("-stale")  # the numbers left on screen are dimmed

        daemon.start()
        await until(pilot, lambda: app.device == "north-1" and daemon.watchers() == 1)
        await pilot.pause()
        assert "not reachable" not in screen_text(app)
        assert not app.screen.has_class("-stale")
        daemon.push(decision("ok"))
        await until(pilot, lambda: len(app.decisions) == 1)
        await pilot.pause()
        assert "✔ ADMITTED" in screen_text(app)


async def test_the_console_starts_before_the_daemon(socket_path: Path) -> None:
    app = make_app(socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "not reachable" in screen_text(app))
        await pilot.press("o", *"x", "enter", "enter")  # a command fails politely too
        await until(pilot, lambda: any("open_once" in n.message for n in app._notifications))
        with FakeDaemon(socket_path):
            await until(pilot, lambda: app.device == "north-1")
            await pilot.pause()
            assert "not reachable" not in screen_text(app)
