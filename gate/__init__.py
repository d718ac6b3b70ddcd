"""gate: the appliance — configuration, the command line, and (later) the lane daemon.

Nothing imports gate; it imports the other packages (verifier now; scanner, sync and
hardware as they arrive).
"""

from .config import GateConfig, load_config

__all__ = ["GateConfig", "load_config"]
