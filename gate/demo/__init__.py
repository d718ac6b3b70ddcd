"""``gate demo``: a short end-to-end run over an example ledger, for the README's Quick start.

``example`` makes the signed ledger and the wallets' codes; ``shell`` runs the real
``gate`` command in subprocesses and shows its output; ``walkthrough`` is the one-gate
part and ``hub_part`` the two gates, the reference hub and the network outage. The
demo drives the CLI from outside, as a person would, so nothing here imports
``gate.cli``.
"""

from .walkthrough import run_demo

__all__ = ["run_demo"]
