"""verifier: GH1 tokens, the signed ledger in SQLite, the decision, and the record log.

The public surface is what the gate, the sync client and tests need; everything else
is an implementation detail of one module.

Names are imported from their module on first use (PEP 562), not all at once: a command
that needs only the policy and the key check (``gate config check``, ``gate relay reset``
read the configuration) does not load the state files, the block parser's thread pool or
the record log. ``from verifier import Checkpoint`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base45 import b45decode, b45encode
    from .blocks import Block, make_block, parse_block
    from .canonical import canonical_json, parse_strict
    from .checkpoint import ApplyReport, Checkpoint
    from .decision import Admission, Decision, LedgerView, Policy, TicketInfo, decide
    from .keys import Signer, public_key_of
    from .ledger_state import LedgerState
    from .peer_records import PeerFork, PeerLink, PeerRefusal, PeerReport
    from .reasons import DECISION_REASONS
    from .record_log import RecordLog
    from .records import make_record, verify_records
    from .state_files import StateFiles
    from .time_floor import ClockState, RunningFloor, TimeFloor, clock_state
    from .token import Token, encode_token, parse_token, step_of

#: Each public name -> the module of this package that defines it.
_WHERE = {
    "b45decode": "base45",
    "b45encode": "base45",
    "Block": "blocks",
    "make_block": "blocks",
    "parse_block": "blocks",
    "canonical_json": "canonical",
    "parse_strict": "canonical",
    "ApplyReport": "checkpoint",
    "Checkpoint": "checkpoint",
    "Admission": "decision",
    "Decision": "decision",
    "LedgerView": "decision",
    "Policy": "decision",
    "TicketInfo": "decision",
    "decide": "decision",
    "Signer": "keys",
    "public_key_of": "keys",
    "LedgerState": "ledger_state",
    "PeerFork": "peer_records",
    "PeerLink": "peer_records",
    "PeerRefusal": "peer_records",
    "PeerReport": "peer_records",
    "DECISION_REASONS": "reasons",
    "RecordLog": "record_log",
    "make_record": "records",
    "verify_records": "records",
    "StateFiles": "state_files",
    "ClockState": "time_floor",
    "RunningFloor": "time_floor",
    "TimeFloor": "time_floor",
    "clock_state": "time_floor",
    "Token": "token",
    "encode_token": "token",
    "parse_token": "token",
    "step_of": "token",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "DECISION_REASONS",
    "Admission",
    "ApplyReport",
    "Block",
    "Checkpoint",
    "ClockState",
    "Decision",
    "LedgerState",
    "LedgerView",
    "PeerFork",
    "PeerLink",
    "PeerRefusal",
    "PeerReport",
    "Policy",
    "RecordLog",
    "RunningFloor",
    "Signer",
    "StateFiles",
    "TicketInfo",
    "TimeFloor",
    "Token",
    "b45decode",
    "b45encode",
    "canonical_json",
    "clock_state",
    "decide",
    "encode_token",
    "make_block",
    "make_record",
    "parse_block",
    "parse_strict",
    "parse_token",
    "public_key_of",
    "step_of",
    "verify_records",
]
