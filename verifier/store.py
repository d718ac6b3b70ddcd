"""The ledger copy with its own files and no device: what the reference hub opens.

The hub checks every block it publishes with the gates' own code by applying it to a
verifier copy of the chain (``sync/authority.py``). That copy is a
:class:`~verifier.ledger_state.LedgerState` over :class:`~verifier.state_files.StateFiles`
opened with ``records=False``; this class holds the two together and closes them.
A gate opens a :class:`~verifier.checkpoint.Checkpoint` instead. Once the hub keeps its
own schema, nothing uses this module.
"""

from __future__ import annotations

from pathlib import Path

from .ledger_state import LedgerState
from .state_files import StateFiles


class LedgerStore(LedgerState):
    """A ledger copy over ``state_dir``'s ``ledger.db``. ``close()`` is safe twice."""

    def __init__(self, state_dir: str | Path, *, ledger_key: bytes, device: str | None = None,
                 integrity: str = "quick", records: bool = True) -> None:
        self.files = StateFiles(state_dir, ledger_key=ledger_key, device=device,
                                integrity=integrity, records=records)
        super().__init__(self.files.conn, ledger_key=ledger_key, device=device)

    @property
    def path(self) -> Path:
        return self.files.path

    def close(self) -> None:
        self.files.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["LedgerStore"]
