"""A checkpoint: one gate's verifier, deciding and recording against its own state.

It ties the pieces together: the state directory's files (:mod:`verifier.state_files`),
the ledger copy the decision reads (:mod:`verifier.ledger_state`), the record log the
device key signs (:mod:`verifier.record_log`), and the policy from the configuration.
``check`` is a dry run; ``admit`` decides inside the record log's write transaction (so
two processes can never both admit the last entry of a ticket) and commits the
decision's record, synced, before it returns: the caller may open the turnstile only
after ``admit`` has returned.

Both decide against the time floor too (:mod:`verifier.time_floor`): the newest block's
time and this gate's newest admission, read with the ledger view, and whatever floor
the caller holds besides (the lane daemon's running one).

The parts are public: ``ledger`` (head, apply_block, the ledger view) and ``log`` (the
record log and its upload cursor) for the sync client and the tools.

``peers`` holds the records learned from peers on the LAN (:mod:`verifier.peer_records`);
the few calls the peer service makes are here: :meth:`Checkpoint.accept_peer_records`,
:meth:`Checkpoint.peer_heads`, :meth:`Checkpoint.peer_records` and
:meth:`Checkpoint.peer_forks`. A peer service holds a Checkpoint (a connection) of its
own, on its own thread: taking peer records locks peers.db only, never the lane's
records.db.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from errors import BlockRejected, DeviceKeyError, Refused

from .blocks import Block, parse_ahead
from .decision import Decision, Policy, decide
from .device_key import KEY_FILE, load_device_key
from .ledger_state import LedgerState
from .parse_child import ChildParser
from .peer_records import PAGE_RECORDS, PeerFork, PeerLink, PeerReport, PeerStore
from .record_log import RecordLog
from .state_files import StateFiles
from .ticket_stage import TicketStage
from .time_floor import TimeFloor, highest


@dataclass(frozen=True, slots=True)
class ApplyReport:
    """What applying a ledger file did: blocks applied, blocks already held, the refusal."""

    applied: int
    held: int
    error: BlockRejected | None
    height: int


class Checkpoint:
    """A gate's verifier over ``state_dir``. ``close()`` is safe twice."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        device: str,
        ledger_key: bytes,
        policy: Policy,
        integrity: str = "quick",
    ) -> None:
        self.device = device
        self.policy = policy
        state = self.state_dir = Path(state_dir)
        key_file = state / KEY_FILE
        # The files first: they refuse a missing state_dir or a lost record log before a
        # key is written there.
        self.files = StateFiles(state, ledger_key=ledger_key, device=device, integrity=integrity)
        try:
            pinned = self.files.device_public_key()
            if pinned is not None and not key_file.exists():
                raise DeviceKeyError(
                    f"{key_file} is missing, but this state's record log is "
                    f"signed by device key {pinned[:16]}…; the key never "
                    "leaves the device, so re-provision the gate"
                )
            self.signer = load_device_key(state)
            self.files.pin_device_key(self.signer.public_key)
        except BaseException:
            self.files.close()
            raise
        self.ledger = LedgerState(self.files.conn, ledger_key=ledger_key, device=device)
        self._stage: TicketStage | None = None
        #: Large lines are parsed in a child process while a stage is open (the child
        #: is started at the first and ended with the stage).
        self._parser = ChildParser()
        self.log = RecordLog(self.files.conn, device=device, signer=self.signer)
        self.peers = PeerStore(
            self.files.conn, ledger=self.ledger, log=self.log, public_key=self.signer.public_key
        )

    def close(self) -> None:
        self.files.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def public_key(self) -> bytes:
        return self.signer.public_key

    def time_floor(self, also: TimeFloor | None = None) -> TimeFloor:
        """The newest time this gate's state proves: the newest block's time or this
        gate's newest admission, whichever is later, or ``also`` (a floor the caller
        holds, such as the lane's running one) if that is later still."""
        return highest(
            self.ledger.time_floor(), self.log.time_floor(), self.peers.time_floor(), also
        )

    def check(self, token: str | bytes, now: int, *, floor: TimeFloor | None = None) -> Decision:
        """Decide without recording anything. ``floor``: as for :meth:`admit`."""
        # The state's own floor (time_floor()) comes with the ticket: one statement.
        return decide(token, now, self.ledger, self.policy, floor)

    def admit(
        self,
        token: str | bytes,
        now: int,
        *,
        timings: dict[str, float] | None = None,
        floor: TimeFloor | None = None,
    ) -> Decision:
        """Decide and record the decision durably; the result says whether to open.

        ``timings``, when given, receives ``decide`` and ``commit`` in seconds (the
        lane logs them with every decision). ``floor`` is a time the caller can prove
        besides the state's (the lane's running floor); the decision uses the highest.
        """
        start = time.perf_counter()
        with self.log.appending():  # records.db's write lock; ledger.db from a snapshot
            decision = decide(token, now, self.ledger, self.policy, floor)
            decided = time.perf_counter()
            seq = self.log.append(
                now, decision.ticket, decision.step, decision.result, decision.reason
            )
        if timings is not None:
            timings["decide"] = decided - start
            timings["commit"] = time.perf_counter() - decided
        return replace(decision, seq=seq)

    def override(self, now: int, note: str, ticket: str | None = None) -> int:
        """Record a steward's "open once" (``admitted``/``override``) and return its seq.

        ``note`` is the steward's reason and is required: an override nobody can explain
        afterwards is exactly what an audit looks for. With ``ticket`` set, it counts as
        that ticket's admission.
        """
        if not note.strip():
            raise Refused("an override needs the steward's reason")
        if ticket is not None:
            ticket = str(uuid.UUID(ticket))
            if self.ledger.ticket(uuid.UUID(ticket).bytes) is None:
                raise Refused(f"ticket {ticket} is not on this gate's ledger")
        with self.log.appending():
            return self.log.append(now, ticket, None, "admitted", "override", note=note.strip())

    def void(self, seq: int, now: int) -> int:
        """Record that admission ``seq`` did not happen (no one passed in time).

        The ticket may be used again; the record (``voided``/``no_passage``, ``ref`` =
        ``seq``) tells the hub, which turns it into a ``void`` event.
        """
        with self.log.appending():
            ticket = self.log.admitted_ticket(seq)
            if ticket is None:
                raise Refused(f"record {seq} is not an admission of this gate")
            return self.log.append(now, ticket, None, "voided", "no_passage", ref=seq)

    def apply_lines(
        self,
        lines: Iterable[tuple[int, str | bytes]],
        *,
        source: str | None = None,
        on_block: Callable[[Block], None] | None = None,
    ) -> ApplyReport:
        """Verify and apply numbered JSONL lines in order; stop at the first refused block.
        ``on_block`` hears of each block applied (a first sync's progress bar)."""
        applied = held = 0
        error: BlockRejected | None = None
        with self.staging() as stage:
            for number, block in parse_ahead(lines, source=source, parse=self._parser.parse):
                try:
                    if isinstance(block, BlockRejected):
                        raise block
                    if self.ledger.apply_block(block, stage):
                        applied += 1
                        if on_block is not None:
                            on_block(block)
                    else:
                        held += 1
                except BlockRejected as exc:
                    error = exc.locate(number, source)
                    break
        return ApplyReport(
            applied=applied, held=held, error=error, height=self.ledger.head().height
        )

    @contextmanager
    def staging(self) -> Iterator[TicketStage]:
        """A :class:`~verifier.ticket_stage.TicketStage` over ledger.db, with its page
        cache raised (:meth:`StateFiles.bulk_cache`), for a batch of blocks: tickets
        staged and merged in id order, one transaction a segment rather than a block.
        :meth:`apply_lines` opens one per call; a first sync that pulls many pages opens
        one around them all (``HubClient.pull``), and the calls inside it share it.
        Leaving it commits every block applied."""
        if self._stage is not None:
            yield self._stage
            return
        with self.files.bulk_cache(), TicketStage(self.files.conn) as stage:
            self._stage = stage
            try:
                yield stage
            finally:
                self._stage = None
                self._parser.close()

    def export_records(self, since: int = 0) -> Iterator[str]:
        """This gate's own records after ``since`` (what it uploads): never a peer's."""
        return self.log.bodies(since)

    # -- peers on the LAN (PROTOCOL.md section 5) ----------------------------------------

    def accept_peer_records(self, lines: Iterable[str | bytes], now: int) -> PeerReport:
        """Take records a peer sent (JSON lines, any devices, any order): held when they
        verify and continue their device's chain, aside behind a gap, else refused;
        forks kept as evidence. ``report.reply()`` is the HTTP reply."""
        return self.peers.accept(lines, now)

    def peer_heads(self, received_by: int | None = None) -> dict[str, tuple[int, str]]:
        """device -> (seq, hash hex) of the last record held of it, this gate's own
        included: ``GET /v1/peer/heads`` serves the seqs, and a pull to fill a gap
        starts after them. ``received_by``: only a peer's records held by that time."""
        return self.peers.heads(received_by)

    def peer_records(self, device: str, since: int, limit: int = PAGE_RECORDS) -> list[str]:
        """``device``'s records after seq ``since`` that this gate holds (its own or
        relayed), oldest first, at most ``limit`` (<= 1,000): ``GET /v1/peer/records``."""
        return self.peers.records(device, since, limit)

    def save_peer_links(self, links: Iterable[PeerLink]) -> None:
        """Record how the peer exchange sees its peers (``gate peers status`` reads it)."""
        self.peers.save_links(links)

    def peer_links(self) -> list[PeerLink]:
        return self.peers.links()

    def peer_forks(self) -> list[PeerFork]:
        """Every fork this gate holds evidence of (the peer service raises the alarm)."""
        return self.peers.forks()

    def status(self) -> dict[str, Any]:
        return {**self.ledger.status(), "records": self.log.count()}


__all__ = ["ApplyReport", "Checkpoint"]
