"""sync: the reference hub (ledger authority, record intake) and, later, the gate's client.

The hub's HTTP API, enrolment codes, the gate-side pull/push worker and sneakernet
import are the rest of the sync issue; this package holds the hub's core so far.
Depends on ``verifier`` only.
"""

from .authority import Authority, Conflict
from .intake import Intake, IntakeResult

__all__ = ["Authority", "Conflict", "Intake", "IntakeResult"]
