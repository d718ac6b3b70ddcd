"""verifier: GH1 tokens, the signed ledger in SQLite, the decision, and the record log.

The public surface is what the gate, the sync client and tests need; everything else
is an implementation detail of one module.
"""

from .base45 import b45decode, b45encode
from .blocks import Block, make_block, parse_block
from .canonical import canonical_json, parse_strict
from .checkpoint import ApplyReport, Checkpoint
from .decision import Admission, Decision, LedgerView, Policy, TicketInfo, decide
from .keys import Signer, public_key_of
from .ledger_state import LedgerState
from .reasons import DECISION_REASONS
from .record_log import RecordLog
from .records import make_record, verify_records
from .state_files import StateFiles
from .token import Token, encode_token, parse_token, step_of

__all__ = [
    "DECISION_REASONS",
    "Admission",
    "ApplyReport",
    "Block",
    "Checkpoint",
    "Decision",
    "LedgerState",
    "LedgerView",
    "Policy",
    "RecordLog",
    "Signer",
    "StateFiles",
    "TicketInfo",
    "Token",
    "b45decode",
    "b45encode",
    "canonical_json",
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
