"""Property tests: the decision never raises and always gives a contract reason; the
codecs round-trip; canonical JSON is stable."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence

import nacl.bindings
import nacl.exceptions
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from errors import EncodingError
from verifier import (
    DECISION_REASONS,
    Admission,
    Checkpoint,
    Decision,
    Policy,
    TicketInfo,
    b45decode,
    b45encode,
    canonical_json,
    decide,
    encode_token,
    parse_strict,
    parse_token,
    reasons,
)
from verifier.base45 import ALPHABET
from verifier.blocks import read_blocks
from verifier.keys import TAG_ENTRY, verify
from verifier.reasons import CHECK_ORDER

from .ledgerkit import NOW, LedgerKit, code, device, issue, show, signer, ticket_id
from .peerkit import PeerChain

HOLDER = signer("prop-holder")
TICKET = ticket_id("prop")


class OneTicketLedger:
    """An in-memory ledger view with one ticket, so properties run without SQLite."""

    def __init__(self, admissions: Sequence[Admission] = ()) -> None:
        self.info = TicketInfo(
            event="show",
            holder=HOLDER.public_key,
            valid_from=NOW - 3600,
            until=NOW + 3600,
            zones=(),
            entries=1,
            label="GA",
            revoked=None,
        )
        self._admissions = list(admissions)

    def ticket(self, ticket: bytes) -> TicketInfo | None:
        return self.info if ticket == uuid.UUID(TICKET).bytes else None

    def previous_holders(self, ticket: bytes) -> Sequence[bytes]:
        return []

    def admissions(self, ticket: bytes) -> Sequence[Admission]:
        return self._admissions


POLICY = Policy(events=frozenset({"show"}), zone="north")
VALID = encode_token(HOLDER, TICKET, NOW // 15)


@given(st.text(max_size=400), st.integers(min_value=-(2**40), max_value=2**40))
def test_decision_never_raises_on_text(text: str, now: int) -> None:
    assert decide(text, now, OneTicketLedger(), POLICY).reason in DECISION_REASONS


@given(st.binary(max_size=400))
def test_decision_never_raises_on_bytes(data: bytes) -> None:
    assert decide(data, NOW, OneTicketLedger(), POLICY).reason in DECISION_REASONS


@given(st.text(alphabet=ALPHABET, min_size=129, max_size=129))
def test_decision_on_alphabet_noise_after_prefix(body: str) -> None:
    decision = decide("GH1:" + body, NOW, OneTicketLedger(), POLICY)
    assert decision.reason in DECISION_REASONS and not decision.admitted


@given(st.integers(min_value=4, max_value=len(VALID) - 1), st.sampled_from(ALPHABET))
def test_one_changed_character_never_admits(position: int, char: str) -> None:
    assume(VALID[position] != char)
    mutated = VALID[:position] + char + VALID[position + 1 :]
    decision = decide(mutated, NOW, OneTicketLedger(), POLICY)
    assert decision.reason in DECISION_REASONS
    assert not decision.admitted


@given(st.binary(max_size=300))
def test_base45_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_base45_decodes_only_canonical_text(text: str) -> None:
    try:
        data = b45decode(text)
    except EncodingError:
        return
    assert b45encode(data) == text  # whatever strict decoding accepts has one spelling


def _b45decode_by_chunks(text: str) -> bytes:
    """RFC 9285 chunk by chunk, the plain way: what the lane-at-once decoder must equal,
    errors (and their words) included."""
    if len(text) % 3 == 1:
        raise EncodingError(f"Base45 length {len(text)} is 3k+1, which no input encodes to")
    # The first character outside ASCII is named before any ASCII one outside the alphabet.
    for ch in sorted(text, key=lambda ch: ch.isascii()):
        if ch not in ALPHABET:
            raise EncodingError(f"character {ch!r} is not in the Base45 alphabet")
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = [ALPHABET.index(ch) for ch in text[i : i + 3]]
        n = sum(v * 45**k for k, v in enumerate(chunk))
        if n > (0xFFFF if len(chunk) == 3 else 0xFF):
            size = "two bytes" if len(chunk) == 3 else "one byte"
            raise EncodingError(f"Base45 chunk {text[i : i + 3]!r} at {i} overflows {size}")
        out += n.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


@given(st.text(alphabet=ALPHABET[-12:] + "0A:é", max_size=140) | st.text(max_size=12))
def test_base45_decodes_as_chunk_by_chunk(text: str) -> None:
    """High characters (values 33..44) make chunks that overflow, a few others that do not."""

    def outcome(decode):
        try:
            return decode(text)
        except EncodingError as exc:
            return str(exc)

    assert outcome(b45decode) == outcome(_b45decode_by_chunks)


@given(st.binary(max_size=40), st.integers(-1, 8 * 96 - 1))
def test_verify_agrees_with_pynacls_public_binding(message: bytes, bit: int) -> None:
    """keys.verify calls libsodium without an output buffer; the answer is the one
    nacl.bindings.crypto_sign_open gives, for good signatures and any one bit flipped
    in the signature or the key (bit -1: none)."""
    holder = signer("prop-verify")
    blob = bytearray(holder.sign(TAG_ENTRY, message) + holder.public_key)
    if bit >= 0:
        blob[bit // 8] ^= 1 << bit % 8
    signature, key = bytes(blob[:64]), bytes(blob[64:])
    try:
        nacl.bindings.crypto_sign_open(signature + TAG_ENTRY + message, key)
        expected = True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        expected = False
    assert verify(key, signature, TAG_ENTRY, message) is expected
    assert expected is (bit < 0)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=32, max_size=32), st.uuids(), st.integers(0, 2**32 - 1))
def test_token_round_trip(seed: bytes, ticket: uuid.UUID, step: int) -> None:
    token = encode_token(seed, ticket, step)
    parsed = parse_token(token)
    assert (parsed.ticket, parsed.step) == (ticket.bytes, step)
    assert parsed.ticket_id == str(ticket)  # spelt as the uuid module spells it
    assert token.startswith("GH1:") and len(token) == 133


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_canonical_json_is_stable(value: object) -> None:
    once = canonical_json(value)
    again = canonical_json(parse_strict(once))
    assert once == again
    assert parse_strict(once) == value
    # Canonical means: key order and whitespace of the input do not matter.
    assert canonical_json(json.loads(json.dumps(value, indent=2))) == once


def test_admission_and_replay_windows() -> None:
    """A concrete anchor for the properties: the valid code admits, a used one does not."""
    assert decide(VALID, NOW, OneTicketLedger(), POLICY).reason == "ok"
    used = OneTicketLedger([Admission("south-2", 3, NOW // 15 - 1, NOW - 20)])
    assert decide(VALID, NOW, used, POLICY).reason == "already_used"


class FaultyLedger:
    """A ledger view whose one ticket can be wrong in any of the ways the checks look for."""

    def __init__(
        self, info: TicketInfo | None, previous: Sequence[bytes], admissions: Sequence[Admission]
    ) -> None:
        self.info, self.previous, self._admissions = info, list(previous), list(admissions)

    def ticket(self, ticket: bytes) -> TicketInfo | None:
        return self.info

    def previous_holders(self, ticket: bytes) -> Sequence[bytes]:
        return self.previous

    def admissions(self, ticket: bytes) -> Sequence[Admission]:
        return self._admissions


OLD_HOLDER = signer("prop-old-holder")
STRANGER = signer("prop-stranger")


def _with_faults(
    shape: str | None, unknown: bool, signature: str | None, flags: frozenset[str], step: str | None
) -> Decision:
    """Decide on a code with the chosen faults; the slots hold faults that exclude each
    other (one code has one shape, one signer, one step)."""
    key = {None: HOLDER, reasons.TRANSFERRED: OLD_HOLDER, reasons.BAD_SIGNATURE: STRANGER}[
        signature
    ]
    now_step = NOW // 15
    token_step = {
        None: now_step,
        reasons.EXPIRED_CODE: now_step - POLICY.back - 1,
        reasons.FUTURE_CODE: now_step + POLICY.fwd + 1,
    }[step]
    text = encode_token(key, TICKET, token_step, version=2 if shape == reasons.UNSUPPORTED else 1)
    if shape == reasons.NOT_A_TICKET:
        text = "GH2" + text[3:]
    elif shape == reasons.MALFORMED:
        text = text[:-1]
    used, replayed = reasons.ALREADY_USED in flags, reasons.REPLAYED in flags
    admissions = (
        [Admission("south-2", 1, token_step if replayed else None, NOW - 60)]
        if used or replayed
        else []
    )
    info = TicketInfo(
        event="other" if reasons.WRONG_EVENT in flags else "show",
        holder=HOLDER.public_key,
        valid_from=NOW + 100 if reasons.TOO_EARLY in flags else NOW - 3600,
        until=NOW - 100 if reasons.TOO_LATE in flags else NOW + 3600,
        zones=("south",) if reasons.WRONG_ZONE in flags else (),
        entries=1 if used else 2,
        label="GA",
        revoked="refund" if reasons.REVOKED in flags else None,
    )
    ledger = FaultyLedger(None if unknown else info, [OLD_HOLDER.public_key], admissions)
    return decide(text, NOW, ledger, POLICY)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([None, reasons.NOT_A_TICKET, reasons.MALFORMED, reasons.UNSUPPORTED]),
    st.booleans(),
    st.sampled_from([None, reasons.TRANSFERRED, reasons.BAD_SIGNATURE]),
    st.frozensets(
        st.sampled_from(
            [
                reasons.REVOKED,
                reasons.WRONG_EVENT,
                reasons.WRONG_ZONE,
                reasons.TOO_EARLY,
                reasons.TOO_LATE,
                reasons.ALREADY_USED,
                reasons.REPLAYED,
            ]
        )
    ),
    st.sampled_from([None, reasons.EXPIRED_CODE, reasons.FUTURE_CODE]),
)
def test_the_first_failing_check_in_check_order_is_the_reason(
    shape: str | None, unknown: bool, signature: str | None, flags: frozenset[str], step: str | None
) -> None:
    faults = {shape, signature, step, *flags} - {None}
    if unknown:
        faults.add(reasons.UNKNOWN_TICKET)
    expected = min(faults, key=CHECK_ORDER.index) if faults else reasons.OK
    assert _with_faults(shape, unknown, signature, flags, step).reason == expected


# -- peer records count as redeem events do (PROTOCOL.md section 5, revision 1.2) --------

PEERS = ("east-3", "west-4")
PEER_TICKETS = ("p0", "p1")

#: One action of a peer gate: (device, what, ticket, code step offset, at offset, which
#: earlier record a void names).
peer_actions = st.lists(
    st.tuples(
        st.sampled_from(PEERS),
        st.sampled_from(("admit", "override", "reject", "void")),
        st.sampled_from(PEER_TICKETS),
        st.integers(-6, 2),
        st.integers(-600, 0),
        st.integers(0, 20),
    ),
    max_size=14,
)


def _peer_logs(actions: list[tuple[str, str, str, int, int, int]]) -> list[str]:
    """The records the actions make, each device's log a valid signed chain."""
    chains = {name: PeerChain(name) for name in PEERS}
    for name, what, ticket, step_offset, at_offset, pick in actions:
        chain, at = chains[name], NOW + at_offset
        if what == "admit":
            chain.admit(ticket, at=at, step=NOW // 15 + step_offset)
        elif what == "override":
            chain.add(
                result="admitted", reason="override", ticket=ticket_id(ticket), at=at, note="x"
            )
        elif what == "reject":
            chain.reject(ticket, at=at)
        elif chain.seq:  # a void of an earlier record of the device: its ticket or another
            chain.void(pick % chain.seq + 1, ticket, at=at)
    return [line for chain in chains.values() for line in chain.lines]


def _as_events(lines: list[str]) -> list[dict]:
    """What the hub makes of the same records: redeem and void events."""
    events = []
    for record in map(json.loads, lines):
        if record["ticket"] is None:
            continue
        if record["result"] == "admitted":
            events.append(
                {
                    "op": "redeem",
                    "ticket": record["ticket"],
                    "device": record["device"],
                    "seq": record["seq"],
                    "step": record["step"],
                    "at": record["at"],
                }
            )
        elif record["result"] == "voided":
            events.append(
                {
                    "op": "void",
                    "ticket": record["ticket"],
                    "device": record["device"],
                    "seq": record["ref"],
                }
            )
    return events


def _decisions(kit, lines: list[str] | None) -> list[tuple]:
    """What a fresh gate over ``kit``'s ledger (holding ``lines`` as peer records, if
    any) decides on each peer ticket's codes near NOW."""
    state = tempfile.mkdtemp(prefix="gatehouse-prop-")
    os.chmod(state, 0o700)
    try:
        with Checkpoint(
            state, device="north-1", ledger_key=kit.key, policy=Policy(events=frozenset({"show"}))
        ) as cp:
            assert cp.apply_lines(read_blocks(kit.lines())).error is None
            if lines:
                report = cp.accept_peer_records(lines, NOW)
                assert report.refused == [] and report.held == 0
            out = []
            for name in PEER_TICKETS:
                for offset in (-2, -1, 0, 1):
                    d = cp.check(code(name, NOW + 15 * offset), NOW)
                    out.append((name, offset, d.reason, d.first_at, d.first_device))
            return out
    finally:
        shutil.rmtree(state)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(peer_actions, st.tuples(st.integers(1, 3), st.integers(1, 3)), st.data())
def test_peer_records_decide_as_the_same_admissions_as_redeem_events(
    actions: list, entries: tuple[int, int], data: st.DataObject
) -> None:
    """A gate holding peers' records decides exactly as one that learned the same
    admissions and voids as the hub's redeem and void events; and one holding the
    records that then also learns some of those events (the hub catching up) decides
    the same again: (device, seq) is the identity, nothing counts twice."""
    lines = _peer_logs(actions)
    events = _as_events(lines)
    some = st.lists(st.sampled_from(events), unique_by=json.dumps) if events else st.just([])
    caught_up = data.draw(some, label="caught up")

    def venue(extra: list[dict]) -> LedgerKit:
        kit = LedgerKit()
        kit.append([show()])
        kit.append([issue(n, entries=e) for n, e in zip(PEER_TICKETS, entries, strict=True)])
        kit.append([device(name) for name in PEERS])
        kit.append(extra)
        return kit

    as_redeems = _decisions(venue(events), None)
    assert _decisions(venue([]), lines) == as_redeems
    assert _decisions(venue(caught_up), lines) == as_redeems
