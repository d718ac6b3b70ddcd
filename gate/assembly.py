"""The parts a configuration names, built in one place: the state, the outputs, the decoder.

Every command and the daemon open their parts through here, so a new ``Checkpoint``
argument or a new indicator is added once and cannot drift between ``gate admit``,
``gate run``, ``gate selftest`` and the sync worker.

Nothing heavy is imported at module level: the state (``verifier``'s files and
checkpoint), the drivers (``hardware``) and the decoders (``scanner``, which brings
OpenCV and numpy) are imported inside the function that needs them, so ``gate relay
reset`` or ``gate config check`` open no database code and never load the camera stack.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from errors import ConfigError

from .config import GateConfig

if TYPE_CHECKING:
    from hardware import Output
    from scanner.frame import Decoder
    from verifier import Checkpoint

    from .outputs import Outputs


def open_checkpoint(cfg: GateConfig, *, integrity: str = "quick") -> Checkpoint:
    """This gate's state (ledger copy, record log, device key) as the configuration says;
    the caller closes it. ``integrity`` is the database check made on opening."""
    from verifier import Checkpoint  # the state files: not for relay reset or config check

    return Checkpoint(
        cfg.state_dir,
        device=cfg.device,
        ledger_key=cfg.ledger_key,
        policy=cfg.policy,
        integrity=integrity,
    )


def open_outputs(cfg: GateConfig, stack: ExitStack) -> Outputs:
    """Every configured output, at rest; closed (to rest) when ``stack`` unwinds."""
    from hardware import output_for_url

    from .outputs import Outputs

    lane = cfg.lane
    if not lane.relay:
        raise ConfigError(
            f"{cfg.path}: missing required key 'relay.url' (gate run drives the turnstile relay)"
        )

    def opened(url: str | None) -> Output | None:
        if url is None:
            return None
        output = output_for_url(url)
        stack.callback(output.close)
        return output

    relay = opened(lane.relay)
    assert relay is not None
    return Outputs(
        relay=relay, green=opened(lane.green), red=opened(lane.red), buzzer=opened(lane.buzzer)
    )


def decoder_for_config(cfg: GateConfig) -> Decoder:
    """The configured QR decoder (``[decoder] name``), or the default one."""
    from scanner import decoder_for_name  # OpenCV and numpy: only when decoding

    return decoder_for_name(cfg.lane.decoder) if cfg.lane.decoder else decoder_for_name()
