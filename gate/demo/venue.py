"""``gate demo``: a whole venue on one machine, the README's first command.

A reference hub on loopback sells the tickets of :mod:`gate.demo.crowd`; each gate is
provisioned by the real ``gate provision`` (one-time code, fingerprint, first sync) and
runs as a real ``gate run`` daemon with a ``synthetic:`` camera, simulated relay, lamps
and passage sensor, and peer exchange with every other lane. The crowd then walks up:
each lane serves its visitors one at a time (a phone held up until the lamp answers),
while the site's uplink fails for part of the run and comes back. At the end each gate
uploads its log, and the demo checks what a venue operator would ask (gate.demo.verdict)
and says so plainly; the exit status is 1 when any of it fails.

Processes are real, so timings vary from run to run; the decisions do not: they follow
from the plan, which the seed fixes.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from errors import DemoFailed
from hub import Authority, Hub
from hub.served import ServedHub, free_port
from verifier.key_fingerprint import key_fingerprint

from ..control_server import MAX_SOCKET_PATH
from ..provision import CONTROL_SOCKET
from .board import Board
from .crowd import (
    EVENT,
    NEXT_DAY,
    RE_ENTRY_S,
    VALID_AFTER_S,
    VALID_BEFORE_S,
    Plan,
    Visit,
    make_plan,
    ticket_id,
)
from .lanes import LaneProcess
from .verdict import Outcome, Verdict, judge

GATE = (sys.executable, "-m", "gate")
#: Seconds an admitted attendee has to walk through before the lane voids the entry.
PASSAGE_TIMEOUT_S = 4.0
#: How long a phone is held up before the attendee gives up (the code was never read).
HOLD_UP_S = 10.0
#: A friend with a copy of the code shows it at another lane this long after the holder's
#: admission: the copy is refused within a second of the entry (the peer window, p99
#: 46 ms on an idle machine and a few hundred on a loaded one, docs/peers.md).
COPY_DELAY_S = 0.7
#: An admitted attendee takes this long to walk through before the next steps up (the
#: simulated sensor reports the passage 0.25 s after the relay opens).
WALK_THROUGH_S = 0.45
#: The synthetic cameras' frame rate, shared out: every frame is rendered and decoded
#: on this machine, so many lanes each get fewer (at least 3 a second).
FRAMES_PER_SECOND = 32
#: How long a daemon may take to say it started (and its peer child): seconds on a
#: quiet machine, more on a loaded one; a Pi imports OpenCV slowly too.
START_S = 180.0


def run_gate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``gate ARGS`` in a child process, its output kept (the live table owns the
    terminal; provision.log and the verdict read what it said)."""
    return subprocess.run(
        [*GATE, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout
    )


def camera_fps(gates: int) -> int:
    """Each lane's share of :data:`FRAMES_PER_SECOND`."""
    return max(3, min(8, FRAMES_PER_SECOND // gates))


@dataclass(frozen=True, slots=True)
class Options:
    gates: int = 4
    attendees: int = 200
    seconds: float = 40.0
    seed: int = 1
    tickets: int = 3000
    steward: str | None = None
    keep: Path | None = None
    json: Path | None = None
    record: Path | None = None


class Venue:
    """The hub, the gates and the crowd of one demo run, under ``directory``."""

    def __init__(self, plan: Plan, directory: Path, board: Board) -> None:
        self.plan = plan
        self.dir = directory
        self.board = board
        self.hub_dir = directory / "hub"
        self.hub: ServedHub | None = None
        self.hub_port = free_port()
        self.lanes: dict[str, LaneProcess] = {}
        self.configs: dict[str, Path] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.started = time.time()
        self.reconciled: dict[str, Any] = {}
        self.logs: dict[str, list[str]] = {}  # each gate's record log, read after the crowd

    # -- the hub and the tickets -----------------------------------------------------------

    def sell(self) -> str:
        """Make the hub's ledger: the shows, every ticket, the resales and refunds. Return
        the ledger key's fingerprint (what the technician is given)."""
        p = self.plan
        now = int(self.started)
        self.hub_dir.mkdir(parents=True, exist_ok=True)
        with Authority(self.hub_dir) as authority:
            authority.publish(
                [
                    {"op": "event", "event": EVENT, "name": "Venue Night",
                     "starts": now - 3600, "ends": now + 5 * 3600},
                    {"op": "event", "event": NEXT_DAY, "name": "Venue Night, day 2",
                     "starts": now + 23 * 3600, "ends": now + 29 * 3600},
                ],
                now - 7200,
            )  # fmt: skip
            issues = [
                {
                    "op": "issue",
                    "ticket": ticket_id(p.seed, t.name),
                    "event": t.event,
                    "holder": p.holder_key(t.name).hex(),
                    "from": now - VALID_BEFORE_S if t.event == EVENT else now + 22 * 3600,
                    "until": now + VALID_AFTER_S if t.event == EVENT else now + 30 * 3600,
                    "zones": list(t.zones),
                    "entries": t.entries,
                    "label": t.label,
                }
                for t in p.tickets
            ]
            authority.publish(issues, now - 3600)
            changes: list[dict[str, Any]] = []
            for t in p.tickets:
                if t.sold_to is not None:
                    changes.append(
                        {
                            "op": "transfer",
                            "ticket": ticket_id(p.seed, t.name),
                            "holder": p.holder_key(t.sold_to).hex(),
                        }
                    )
                if t.refunded:
                    changes.append(
                        {"op": "revoke", "ticket": ticket_id(p.seed, t.name), "reason": "refund"}
                    )
            authority.publish(changes, now - 1800)
            return key_fingerprint(authority.public_key)

    def hub_up(self) -> None:
        self.hub = ServedHub(self.hub_dir, self.hub_port, self.dir / "hub.log", heartbeat=1.0)

    def hub_down(self) -> None:
        if self.hub is not None:
            self.hub.stop()
            self.hub = None

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    # -- the gates ---------------------------------------------------------------------------

    def provision(self, fingerprint: str) -> None:
        """Each gate through ``gate provision``, as a technician does it, all at once."""
        peer_ports = {name: free_port() for name in self.plan.lanes}
        hub = Hub(self.hub_dir)
        try:
            codes = {name: hub.enrol_code(int(time.time())) for name in self.plan.lanes}
        finally:
            hub.close()

        def one(name: str) -> tuple[str, subprocess.CompletedProcess[str]]:
            zone = self.plan.lanes[name]
            root = self.dir / name
            queue, hold = root / "camera-queue", root / "attendee-stands"
            queue.mkdir(parents=True, exist_ok=True)
            number = list(self.plan.lanes).index(name)
            camera = (
                f"synthetic:?queue={queue}&width=640&height=480&fps={camera_fps(len(self.plan.lanes))}"
                f"&seed={self.plan.seed * 100 + number}"
            )
            args = [
                "provision", "--hub", self.hub_url, "--code", codes[name],
                "--ledger-key-fingerprint", fingerprint, "--device", name,
                "--events", EVENT, "--zone", zone, "--camera", camera,
                "--relay", "sim:relay?pulse_ms=250", "--green", "sim:green?pulse_ms=300",
                "--red", "sim:red?pulse_ms=300",
                "--sensor", f"sim:?follow=relay&delay_ms=250&hold={hold}",
                "--passage-timeout", str(PASSAGE_TIMEOUT_S),
                "--peer-listen", f"127.0.0.1:{peer_ports[name]}",
                "--root", str(root), "--user", getpass.getuser(), "--no-selftest",
            ]  # fmt: skip
            for other in self.plan.lanes:
                if other != name:
                    args += ["--peer", f"http://127.0.0.1:{peer_ports[other]}"]
            done = run_gate(*args)
            (root / "provision.log").write_text(done.stdout + done.stderr, encoding="utf-8")
            return name, done

        with ThreadPoolExecutor(max_workers=len(self.plan.lanes)) as pool:
            for name, done in pool.map(one, self.plan.lanes):
                if done.returncode != 0:
                    raise DemoFailed(
                        f"gate provision of {name} failed (see {self.dir / name}/provision.log):"
                        f"\n{done.stderr.strip() or done.stdout.strip()}"
                    )
                self.configs[name] = self.dir / name / "etc/gatehouse/gate.toml"
                synced = next(
                    (ln for ln in done.stdout.splitlines() if ln.startswith("synced")), ""
                )
                self.board.note(f"{name} provisioned ({self.plan.lanes[name]} zone); {synced}")

    def open_lanes(self) -> None:
        for name, config in self.configs.items():
            root = self.dir / name
            self.lanes[name] = LaneProcess(
                name,
                config,
                root / "camera-queue",
                root / "attendee-stands",
                root / "journal.log",
                on_event=self.board.journal_line,
            )
        self.board.watch(self.lanes)
        for name, lane in self.lanes.items():
            for what in ("started", "peers_started"):
                found, _ = lane.wait_for(lambda e, w=what: e.get("event") == w, 0, START_S)
                if found is None:
                    ended = lane.proc.poll()
                    raise DemoFailed(
                        f"{name}: gate run "
                        + (
                            f"exited with status {ended}"
                            if ended is not None
                            else f"did not say {what!r} in {START_S:.0f} s"
                        )
                        + f" (see {self.dir / name}/journal.log)"
                    )
        self.board.note(f"{len(self.lanes)} lanes running: gate run, with peer exchange on")

    # -- the crowd ----------------------------------------------------------------------------

    def run_crowd(self) -> None:
        t0 = time.monotonic()
        self.board.start_clock(t0)
        workers = [
            threading.Thread(target=self._serve_lane, args=(name, t0), name=f"crowd-{name}")
            for name in self.lanes
        ]
        outage = threading.Thread(target=self._outage, args=(t0,), name="outage", daemon=True)
        outage.start()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        outage.join()

    def _outage(self, t0: float) -> None:
        down, up = self.plan.outage
        time.sleep(max(0.0, t0 + down - time.monotonic()))
        self.hub_down()
        self.board.hub_state(False)
        # The picture of the live table: late in the outage, the lanes offline.
        time.sleep(max(0.0, t0 + down + (up - down) * 0.8 - time.monotonic()))
        self.board.snapshot("demo-live", "gate demo: the venue mid-run, the hub down")
        time.sleep(max(0.0, t0 + up - time.monotonic()))
        self.hub_up()
        self.board.hub_state(True)

    def _serve_lane(self, name: str, t0: float) -> None:
        """Serve lane ``name``'s visitors one at a time: each regular visitor at their
        time (or when the one before is through), but a visitor who follows another
        (a friend with a copy, a balker coming back) first, as soon as they are due."""
        lane = self.lanes[name]
        regular = [v for v in self.plan.visits if v.lane == name and v.after is None]
        following = [v for v in self.plan.visits if v.lane == name and v.after is not None]
        gave_up = time.monotonic() + self.plan.seconds + 600  # a dependency that never came
        while regular or following:
            now = time.monotonic()
            due = [v for v in following if self._due(v) <= now or now > gave_up]
            if due:
                visit = due[0]
                following.remove(visit)
            elif regular and t0 + regular[0].at <= now:
                visit = regular.pop(0)
            else:
                time.sleep(0.02)
                continue
            self._serve(lane, visit)

    def _due(self, visit: Visit) -> float:
        """When a following visitor steps up: a moment after the visit followed was
        answered (``inf`` while it is not)."""
        before = self.outcomes.get(visit.after or 0)
        if before is None:
            return float("inf")
        delay = {"copy": COPY_DELAY_S, "multi": RE_ENTRY_S}.get(visit.kind, 1.0)
        return before.seen + delay

    def _serve(self, lane: LaneProcess, visit: Visit) -> None:
        try:
            outcome = (
                self._open_once(lane, visit)
                if visit.kind == "open_once"
                else self._present(lane, visit)
            )
        except Exception as exc:  # one broken visit is reported, the venue goes on
            outcome = Outcome(visit, "error", str(exc), seen=time.monotonic())
        self.outcomes[visit.id] = outcome  # complete: a visit following it may go now
        self.board.visit(outcome, self.outcomes.get(visit.after or 0))
        if outcome.result == "admitted" and visit.walks:
            time.sleep(WALK_THROUGH_S)  # through the turnstile before the next steps up

    def _present(self, lane: LaneProcess, visit: Visit) -> Outcome:
        if not visit.walks:
            lane.hold.touch()
        try:
            mark = lane.mark()
            held = time.monotonic()
            text = self.plan.code(visit, time.time())
            assert text is not None
            phone = lane.hold_up([text])
            decision, after = lane.wait_for(lambda e: e.get("event") == "decision", mark, HOLD_UP_S)
            seen = time.monotonic()
            lane.lower(phone)
            if decision is None:
                return Outcome(visit, "unread", "never read", seen=seen, waited=seen - held)
            outcome = Outcome(
                visit,
                str(decision.get("result")),
                str(decision.get("reason")),
                first_device=decision.get("first_device"),
                first_at=decision.get("first_at"),
                seq=decision.get("seq"),
                seen=seen,
                waited=seen - held,
            )
            if not visit.walks and outcome.result == "admitted":
                ticket = ticket_id(self.plan.seed, visit.ticket or "")
                voided, _ = lane.wait_for(
                    lambda e: e.get("event") == "voided" and e.get("ticket") == ticket,
                    after,
                    PASSAGE_TIMEOUT_S + 10,
                )
                outcome.voided = voided is not None
                outcome.seen = time.monotonic()
            return outcome
        finally:
            lane.hold.unlink(missing_ok=True)

    def _open_once(self, lane: LaneProcess, visit: Visit) -> Outcome:
        mark = lane.mark()
        done = run_gate(
            "-c", str(lane.config), "ctl", "open-once", "--as", f"steward at {lane.name}",
            "--reason", "phone died; ticket checked at the box office", "--json", timeout=30,
        )  # fmt: skip
        override, _ = lane.wait_for(lambda e: e.get("event") == "override", mark, 10)
        seen = time.monotonic()
        if done.returncode != 0 or override is None:
            return Outcome(visit, "error", done.stderr.strip() or "no override line", seen=seen)
        return Outcome(visit, "admitted", "override", seq=override.get("seq"), seen=seen)

    # -- the reconciliation ---------------------------------------------------------------

    def reconcile(self) -> None:
        """Each gate uploads its log now (``gate sync once``: the daemons' own rounds
        would come too, after their back-off), twice: the second pull brings the
        hub's ``redeem`` events of every lane. Then the lanes' peer exchange evens out."""
        self.board.note("the crowd is in; every gate uploads its log to the hub")
        if self.hub is None:
            self.hub_up()
        for round_ in (1, 2):
            with ThreadPoolExecutor(max_workers=len(self.configs)) as pool:
                results = list(
                    pool.map(
                        lambda c: run_gate("-c", str(c), "sync", "once"), self.configs.values()
                    )
                )
            self.reconciled[f"sync_round_{round_}"] = {
                name: done.returncode for name, done in zip(self.configs, results, strict=True)
            }
            time.sleep(1.5)  # the hub publishes the uploaded admissions in its next block
        # The lanes decide nothing more: each log is read once, for the peers' check here
        # and for the verdict.
        self.logs = {name: self.export(name) for name in self.configs}
        own = {name: len(log) for name, log in self.logs.items()}
        deadline = time.monotonic() + 20
        while True:
            held = {name: self._peer_heads(name) for name in self.configs}
            even = all(
                all(held[name].get(other, 0) >= own[other] for other in own if other != name)
                for name in held
            )
            if even or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.reconciled["peer_heads"] = held
        self.reconciled["own_heads"] = own

    def _peer_heads(self, name: str) -> dict[str, int]:
        done = run_gate("-c", str(self.configs[name]), "peers", "status", "--json", timeout=30)
        try:
            return {str(k): int(v) for k, v in json.loads(done.stdout)["held"].items()}
        except (ValueError, KeyError, TypeError):
            return {}

    def export(self, name: str) -> list[str]:
        """The gate's own record log, as ``gate records export`` writes it."""
        done = run_gate("-c", str(self.configs[name]), "records", "export", "-", timeout=60)
        return [line for line in done.stdout.splitlines() if line.strip()]

    def close(self) -> None:
        for lane in self.lanes.values():
            lane.stop()
        self.hub_down()


def _missing_parts() -> str | None:
    """Which extra the demo needs is not installed (python3 dev.py installs them all)."""
    for module, extra in (("fastapi", "hub"), ("uvicorn", "hub"), ("cv2", "scanner"),
                          ("zxingcpp", "scanner"), ("segno", "scanner")):  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            return (
                f"the demo needs the {extra} extra ({module} is missing): "
                "python3 dev.py demo sets up every extra"
            )
    return None


def run_venue(opts: Options) -> int:
    """Run the venue demo; 0 when every invariant holds, 1 otherwise."""
    missing = _missing_parts()
    if missing:
        print(f"gate demo: {missing}", file=sys.stderr)
        return 2
    try:
        plan = make_plan(opts.seed, opts.gates, opts.attendees, opts.seconds, opts.tickets)
    except DemoFailed as exc:
        print(f"gate demo: {exc}", file=sys.stderr)
        return 2
    directory = (opts.keep or Path(tempfile.mkdtemp(prefix="gatehouse-venue-"))).absolute()
    socket = directory / "south-12" / CONTROL_SOCKET  # the longest a lane's can be
    if len(os.fsencode(socket)) > MAX_SOCKET_PATH:
        print(
            f"gate demo: --keep {directory}: the path is too long for the lanes' control "
            f"sockets ({len(os.fsencode(socket))} bytes, a Unix socket holds at most "
            f"{MAX_SOCKET_PATH}); choose a shorter directory",
            file=sys.stderr,
        )
        return 2
    directory.mkdir(parents=True, exist_ok=True)
    if opts.steward is not None and not sys.stdout.isatty():
        print("gate demo: --steward needs a terminal (the console draws on it)", file=sys.stderr)
        return 2
    log = None
    if opts.steward is not None:  # the console has the terminal; the run's lines go here
        log = (directory / "demo.log").open("w", encoding="utf-8")
        print(
            f"the run's lines go to {directory / 'demo.log'}; quit the console (q) for the summary"
        )
    board = Board(
        plan,
        live=opts.steward is None and sys.stdout.isatty(),
        console=None if log is None else Console(file=log, width=132, highlight=False),
        record=opts.record,
    )
    venue = Venue(plan, directory, board)
    verdict: Verdict | None = None
    steward: subprocess.Popen[bytes] | None = None
    try:
        with board:
            board.note(
                f"a hub on {venue.hub_url} sells {len(plan.tickets)} tickets for {EVENT} "
                f"(and a few for tomorrow's show); {len(plan.lanes)} gates, "
                f"{opts.attendees} attendees, seed {opts.seed}"
            )
            fingerprint = venue.sell()
            venue.hub_up()
            venue.provision(fingerprint)
            venue.open_lanes()
            if opts.steward is not None:
                steward = _steward(venue, opts.steward)
            venue.run_crowd()
            venue.reconcile()
            verdict = judge(
                plan,
                venue.outcomes,
                {name: lane.figures for name, lane in venue.lanes.items()},
                venue.hub_dir,
                venue.logs,
                venue.reconciled,
            )
            board.finish(verdict)
            board.snapshot("demo-summary", "gate demo: the summary", verdict)
    except KeyboardInterrupt:
        print("\ngate demo: stopped", file=sys.stderr)
        return 130
    except (DemoFailed, OSError) as exc:
        print(f"gate demo: {exc}", file=sys.stderr)
        return 1
    finally:
        if steward is not None:
            steward.wait()
            if verdict is not None:
                board.report(verdict, Console(highlight=False))
        if log is not None:
            log.close()
        venue.close()
        if opts.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print(f"the venue's files are in {directory}")
    if opts.json is not None and verdict is not None:
        opts.json.write_text(json.dumps(verdict.summary(), indent=2) + "\n", encoding="utf-8")
    return 0 if verdict is not None and verdict.passed else 1


def _steward(venue: Venue, name: str) -> subprocess.Popen[bytes]:
    """The steward's console of lane ``name`` in this terminal, beside the run (the
    demo's own lines go to its log file meanwhile)."""
    if name not in venue.configs:
        raise DemoFailed(f"--steward {name}: no such lane (lanes: {', '.join(venue.configs)})")
    return subprocess.Popen(
        [*GATE, "-c", str(venue.configs[name]), "steward", "--as", f"demo steward at {name}"],
        env=os.environ,
    )


__all__ = ["Options", "Venue", "run_venue"]
