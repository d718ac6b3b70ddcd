"""gate: the appliance — its configuration, the ``gate`` command, the lane and its daemon.

Where things are:

- ``config``: the TOML file, read strictly (``GateConfig``, ``load_config``).
- ``assembly``: the parts a configuration names (state, outputs, decoder), built once.
- ``cli/``: the ``gate`` command, one module per command group.
- ``lane``, ``outputs``, ``daemon``, ``systemd``, ``events``: the scan pipeline, the
  relay and lamps, ``gate run`` under systemd, and its JSON event log.
- ``sync_worker``, ``sync_health``: the daemon's sync child and its alarms.
- ``lanetools``: ``gate scan`` and ``gate selftest``.
- ``decision_text``: a decision in words for a person.
- ``demo/``: ``gate demo``, which drives the real command in subprocesses.
- ``cli/hub``: ``gate hub …`` hands its arguments to the hub package (``hub.cli``).

Nothing imports gate; gate imports the other packages (verifier, scanner, sync,
hardware, errors), the heavy ones (the camera stack, the hub) only inside the commands
that need them, so a quick command such as ``gate check`` starts quickly on a Pi.
"""

from .config import GateConfig, load_config

__all__ = ["GateConfig", "load_config"]
