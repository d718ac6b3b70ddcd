"""Every decision reason and every alarm in a steward's words: one table, two readers.

The console's help screen and banner and the tables in docs/stewards.md are made from
the tables below, so the page a steward reads before a shift and the screen at the lane
never say different things. ``tests/steward/test_reasons_text.py`` fails when a reason
code of ``verifier.reasons`` has no entry here, or when docs/stewards.md no longer holds
what this module generates. Regenerate the page's tables with::

    python -m gate.steward.reasons_text --write docs/stewards.md

(``--markdown`` prints them instead). No Textual here: the generator runs anywhere.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from verifier import reasons as r


@dataclass(frozen=True, slots=True)
class ReasonText:
    """One decision reason for a person: a line for the banner, what it means, what to do."""

    code: str
    banner: str  # after "✔ ADMITTED — " / "✘ REFUSED — ": short, and says what to ask
    means: str
    do: str

    @property
    def gate_says(self) -> str:
        """The words the gate prints (``gate check``, the journal): verifier.reasons.WORDS;
        the code itself, spaced, for a code this version does not know."""
        return r.WORDS.get(self.code, self.code.replace("_", " "))


@dataclass(frozen=True, slots=True)
class AlarmText:
    """One alarm for a person: what it means for the lane, what to do, whom to call."""

    name: str
    means: str
    do: str
    call: str


def _reasons(*items: ReasonText) -> dict[str, ReasonText]:
    return {item.code: item for item in items}


#: In the order a steward meets them: admitted first, then the decision's check order.
REASONS: Final = _reasons(
    ReasonText(
        r.OK,
        "valid ticket",
        "Everything checks out.",
        "Let them through.",
    ),
    ReasonText(
        r.LANE_CLOSED,
        "this lane is closed: send them to another lane",
        "The lane is set to closed. Every scan is refused and recorded, and nobody's entry "
        "is used up.",
        "Direct them to another lane.",
    ),
    ReasonText(
        r.CANNOT_RECORD,
        "this gate cannot record: nobody is let in here, use another lane",
        "The gate's card is full or failing, so it cannot record a decision, and a decision "
        "it cannot record lets nobody in. Nothing was used up. It recovers by itself when "
        "the card takes writes again.",
        "Send people to another lane, or let them through by hand if you must (write down "
        "who and why). Call a technician.",
    ),
    ReasonText(
        r.NOT_A_TICKET,
        "not one of our tickets: ask for the ticket in the wallet app",
        "The QR code is not one of our tickets: a web link, a payment code, another venue's "
        "ticket.",
        "Ask them to open the ticket in their ticket wallet and show that code.",
    ),
    ReasonText(
        r.MALFORMED,
        "the code was read only partly: screen brighter, hold still",
        "The code was read only partly: a cracked screen, glare, a dim screen, a cropped image.",
        "Ask them to turn the screen brightness up and hold the phone still and flat. Scan again.",
    ),
    ReasonText(
        r.UNSUPPORTED,
        "the wallet app is too old for this gate: ask them to update it",
        "The wallet app makes codes this gate does not read.",
        "Ask them to update the wallet app. If that does not help, send them to the box office.",
    ),
    ReasonText(
        r.UNKNOWN_TICKET,
        "this gate does not know the ticket: box office",
        "The gate does not know this ticket. It may be for another venue, or bought so "
        "recently that this gate's copy of the ledger does not have it yet.",
        "Send them to the box office. If several recent buyers get this, call a technician: "
        "the gate's ledger may be out of date.",
    ),
    ReasonText(
        r.TRANSFERRED,
        "the ticket was passed on: this is the old holder's phone",
        "The ticket was transferred to someone else, and this phone belongs to the person "
        "who had it before. Only the new holder's wallet makes valid codes now.",
        "Ask whether they sold or gave the ticket away. The current holder must show the "
        "code from their own phone. Otherwise, send them to the box office. Do not admit.",
    ),
    ReasonText(
        r.BAD_SIGNATURE,
        "forged or damaged code: refresh the wallet, else box office",
        "The code was not made by the ticket holder's wallet: a forgery, or a damaged code.",
        "Ask them to refresh the wallet and scan again. If it fails again, send them to the "
        "box office. Do not admit. (If the ticket changed hands minutes ago, this gate may "
        "not have heard of the transfer yet: the box office can check.)",
    ),
    ReasonText(
        r.REVOKED,
        "the ticket was refunded or cancelled: box office",
        "The ticket was refunded or cancelled. It is no longer valid.",
        "Send them to the box office. Do not argue the case at the lane.",
    ),
    ReasonText(
        r.WRONG_EVENT,
        "the ticket is for another show",
        "The ticket is for a different show; the console shows which one after the label.",
        "Tell them which show the ticket is for. Check the date and venue with them.",
    ),
    ReasonText(
        r.WRONG_ZONE,
        "the ticket is for another entrance",
        "The ticket is for other zones or entrances.",
        "Direct them to the entrance on their ticket. If unsure, send them to the box office.",
    ),
    ReasonText(
        r.CLOCK_BEHIND,
        "this gate's clock is wrong: another lane, and call a technician",
        "The gate's clock is behind the newest time it knows has passed (usually after a "
        "power cut: the gate has no battery clock). It cannot tell a live code from an old "
        "screenshot, so it refuses every ticket rather than let screenshots in.",
        "Send them to another lane; it is not their fault. Call a technician. The lane "
        "works again by itself once the clock is right.",
    ),
    ReasonText(
        r.EXPIRED_CODE,
        "this code is a screenshot that has expired: ask for the live code in the wallet",
        "The code is older than the gate accepts (about 30 to 45 seconds). Usually a "
        "screenshot, a photo or a printout, which cannot work.",
        "Ask them to open the live wallet app, not a screenshot, and show the code it shows "
        "now. If a live code still fails, their phone clock may be slow: ask them to set the "
        "phone to automatic time.",
    ),
    ReasonText(
        r.FUTURE_CODE,
        "the phone's clock is ahead: set it to automatic time",
        "The phone's clock is ahead of the gate's.",
        "Ask them to set the phone's date and time to automatic, reopen the wallet, and scan "
        "again. If many people get this, call a technician: the gate's clock may be wrong.",
    ),
    ReasonText(
        r.TOO_EARLY,
        "the ticket is not valid yet: tell them when to come back",
        "The ticket's entry time has not started (a later session, or doors not yet open for "
        "this ticket).",
        "Tell them when to come back, or send them to the box office.",
    ),
    ReasonText(
        r.TOO_LATE,
        "the ticket's entry time is over: box office",
        "The ticket's entry time has ended.",
        "Send them to the box office.",
    ),
    ReasonText(
        r.ALREADY_USED,
        "every entry of this ticket is used: supervisor or box office",
        "All entries of this ticket are used. The console shows when and at which gate it "
        "was first let in. If that is another lane, it may have let them in moments ago: the "
        "lanes tell each other their entries at once, also while the hub is unreachable.",
        "Ask whether they already came in at that time and gate (left and came back?), or "
        "whether someone else used the ticket. Do not admit; send them to a supervisor or the "
        "box office.",
    ),
    ReasonText(
        r.REPLAYED,
        "this exact code was used already: wait for a fresh code and scan again",
        "The ticket has entries left, but this exact code (or an older one) was already used "
        "for one of them. Codes change every 15 seconds.",
        "Ask them to wait for the code to change (up to 15 s) and scan the new one. If the "
        "same ticket keeps coming back with old codes, a copied code may be circulating: "
        "call a supervisor.",
    ),
)

#: The camera alarm's name on the control socket; the daemon may add the device after it.
CAMERA: Final = "camera"

ALARMS: Final = {
    a.name: a
    for a in (
        AlarmText(
            CAMERA,
            "The camera (or serial scanner) cannot be opened or stopped delivering frames. "
            "The lane reads nothing meanwhile; the daemon keeps retrying by itself.",
            "Check the camera's cable and that nothing covers it. The alarm clears by itself "
            "when the camera is back; send people to another lane meanwhile.",
            "A technician if it does not clear within a minute.",
        ),
        AlarmText(
            "disk_full",
            "The gate's card is full: it cannot record decisions, so it lets nobody in by "
            "code. Nothing recorded is lost; it recovers by itself when space is freed.",
            "Send people to another lane.",
            "A technician, now: free space on the card (gate doctor shows the disk).",
        ),
        AlarmText(
            "disk_low",
            "The gate's card is nearly full: it stopped taking ledger updates so that the "
            "room left stays for recording decisions. The lane keeps deciding on the ledger "
            "it has.",
            "Keep working. Tickets changed since the alarm may be unknown here: send those "
            "people to the box office.",
            "A technician, soon: free space on the card before it fills.",
        ),
        AlarmText(
            "state_unwritable",
            "The gate cannot write to its card (failing, or turned read-only). It lets "
            "nobody in by code. What it recorded before is kept on the card.",
            "Send people to another lane; do not unplug the gate.",
            "A technician, now: the unit must be replaced (its records are recovered from "
            "the card).",
        ),
        AlarmText(
            "ledger_stale",
            "The gate has not had news from the hub for a while (or has no ledger at all). "
            "Transfers, refunds and other gates' admissions since then are unknown here.",
            "Keep working: the lane still decides. Expect a few wrong answers for tickets "
            "that changed recently; send disputes to the box office.",
            "A technician: the link to the hub is down (at a site with no network, this "
            "alarm is expected).",
        ),
        AlarmText(
            "clock_skew",
            "This gate's clock and the hub's disagree by more than half a minute. Live codes "
            "may be refused as too old or from the future.",
            "If many valid phones are refused as too old or from the future, send people to "
            "another lane.",
            "A technician, now: the gate's time sync must be fixed.",
        ),
        AlarmText(
            "clock_behind",
            "The gate's clock is behind the newest time it knows has passed (a block from "
            "the hub, or its own last admissions): usually a power cut on a unit with no "
            "battery clock. Every ticket is refused (clock_behind), so that no old "
            "screenshot gets in.",
            "Send people to another lane. Where there is none, a supervisor decides whether "
            "to open by hand (every opening is recorded with your name). The alarm clears by "
            "itself when the clock is right.",
            "A technician, now: the gate's clock must be set (its time sync, or by hand).",
        ),
        AlarmText(
            "hub_unreachable",
            "The gate cannot reach the hub. It keeps deciding on its own copy of the ledger "
            "and keeps every record to upload later (the upload backlog grows).",
            "Nothing at the lane. Tickets bought or passed on in the last minutes may be "
            "unknown here: send those people to the box office.",
            "A technician if it lasts more than a few minutes (network or hub down).",
        ),
        AlarmText(
            "hub_refused",
            "The hub sent something this gate refuses, or refused this gate's records. The "
            "gate applies nothing of it and keeps deciding on what it has.",
            "Keep working. Do not restart or unplug the gate.",
            "A technician, who tells the hub operator (the detail says what was refused).",
        ),
        AlarmText(
            "sync_worker_exited",
            "The part of the gate that talks to the hub stopped; the daemon restarts it by "
            "itself. The lane keeps deciding.",
            "Nothing at the lane.",
            "A technician if it repeats.",
        ),
        AlarmText(
            "peer_unreachable",
            "This gate cannot reach another lane's gate on the venue network (the detail "
            "names it). Both lanes keep deciding, but until they reach each other again an "
            "entry at that lane is not known here, nor this lane's there: one ticket could "
            "get in once at each.",
            "Keep working. If someone says they were refused at another lane, ask a "
            "supervisor. The alarm clears by itself when the gates reach each other again.",
            "A technician if it does not clear within a few minutes (the other gate is off, "
            "or a cable, switch or network setting).",
        ),
        AlarmText(
            "peer_fork",
            "Two units are signing as one gate (the detail names it): its identity was "
            "copied, usually a cloned card. Entries recorded by the copy may not count "
            "here, so a ticket used there could get in here again.",
            "Keep working. Note the gate named in the alarm and tell the supervisor.",
            "A technician and the hub operator, now: the copy must be taken out of service "
            "and both units set up again. The alarm stays until the technician clears it.",
        ),
        AlarmText(
            "peers_worker_exited",
            "The part of the gate that talks to the other lanes stopped; the daemon restarts "
            "it by itself. The lane keeps deciding, but entries at other lanes may not be "
            "known here meanwhile.",
            "Nothing at the lane.",
            "A technician if it repeats.",
        ),
    )
}

#: For an alarm name this table does not know: the daemon is newer than the console.
UNKNOWN_ALARM: Final = AlarmText(
    "?",
    "An alarm this console has no words for (the lane daemon is newer than the console).",
    "Read the detail; keep working unless it says the lane stopped.",
    "A technician.",
)


def reason_text(code: str) -> ReasonText:
    """The words for ``code``; an unknown code (a newer daemon) still gets a line."""
    known = REASONS.get(code)
    if known is not None:
        return known
    return ReasonText(code, code.replace("_", " "), "A reason this console does not know.", "")


def alarm_text(name: str) -> AlarmText:
    """The words for alarm ``name``. Camera alarms may carry the device after the name
    (``camera /dev/video0 …``), so any name starting with ``camera`` is the camera's."""
    if name in ALARMS:
        return ALARMS[name]
    if name.startswith(CAMERA):
        return ALARMS[CAMERA]
    return UNKNOWN_ALARM


# -- docs/stewards.md -------------------------------------------------------------------

REASONS_BEGIN, REASONS_END = "<!-- reasons: begin -->", "<!-- reasons: end -->"
ALARMS_BEGIN, ALARMS_END = "<!-- alarms: begin -->", "<!-- alarms: end -->"
_NOTE = "<!-- generated by python -m gate.steward.reasons_text; edit the module, not here -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reasons_markdown() -> str:
    """The reasons table of docs/stewards.md."""
    rows = [
        _NOTE,
        "| Code | The console says | What it means | What to say or do |",
        "| --- | --- | --- | --- |",
    ]
    rows += [
        f"| `{t.code}` | {_cell(t.banner)} | {_cell(t.means)} | {_cell(t.do)} |"
        for t in REASONS.values()
    ]
    return "\n".join(rows)


def alarms_markdown() -> str:
    """The alarms table of docs/stewards.md."""
    rows = [
        _NOTE,
        "| Alarm | What it means | What to do | Whom to call |",
        "| --- | --- | --- | --- |",
    ]
    rows += [
        f"| `{a.name}` | {_cell(a.means)} | {_cell(a.do)} | {_cell(a.call)} |"
        for a in ALARMS.values()
    ]
    return "\n".join(rows)


def _replace_between(text: str, begin: str, end: str, body: str) -> str:
    head, found, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise AssertionError(f"the page has no {begin} ... {end} markers")
    return f"{head}{begin}\n{body}\n{end}{tail}"


def with_tables(page: str) -> str:
    """``page`` with both generated tables replaced by what this module says now."""
    page = _replace_between(page, REASONS_BEGIN, REASONS_END, reasons_markdown())
    return _replace_between(page, ALARMS_BEGIN, ALARMS_END, alarms_markdown())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gate.steward.reasons_text",
        description="The steward's tables of reasons and alarms, as Markdown.",
    )
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--markdown", action="store_true", help="print both tables")
    how.add_argument("--write", type=Path, metavar="PAGE", help="rewrite the tables in PAGE")
    args = parser.parse_args(argv)
    if args.markdown:
        print(reasons_markdown(), alarms_markdown(), sep="\n\n")
        return 0
    page = args.write.read_text(encoding="utf-8")
    args.write.write_text(with_tables(page), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
