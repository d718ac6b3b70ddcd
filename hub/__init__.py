"""hub: the reference hub — ledger authority, record intake, enrolment, its HTTP API.

The gate never imports this package (its sync client is ``sync.client``); only the
``gate hub`` commands, the demo, tests and benchmarks do. The surface here is the
in-process one, and deliberately light: the HTTP API (``hub.api``, FastAPI) and the
server (uvicorn) are imported only by ``gate hub serve`` and the tests that serve it.

    hub.db         the hub's SQLite file: schema and opening
    hub.authority  signs, checks, stores and serves blocks
    hub.intake     each gate's signed record log, held exactly once
    hub.facts      what the ledger rules and the conflict report read, kept in hub.db
    hub.service    the Hub: authority, intake, enrolment and signed requests together
    hub.api        the HTTP API (FastAPI)
    hub.cli        ``gate hub …``
    hub.served     ``gate hub serve`` as a child process, for the demo, tests and bench
"""

from .authority import Authority, Conflict
from .intake import Intake, IntakeResult
from .service import Hub

__all__ = ["Authority", "Conflict", "Hub", "Intake", "IntakeResult"]
