"""Where Textual may and may not be loaded: never by the lane daemon, nor by a light command.

The daemon turns the turnstile; a UI library in its process is a risk it does not need
(DESIGN.md: the console talks to it only through the control socket). And ``gate
steward`` imports the app inside its command, so every other command stays quick.
"""

from __future__ import annotations

from tests.test_light_imports import imported_by


def test_the_daemon_and_the_lane_never_load_textual() -> None:
    result, modules = imported_by(["-c", "import gate.daemon, gate.lane, gate.cli"])
    assert result.returncode == 0, result.stderr
    assert not {m for m in modules if m.split(".")[0] in ("textual", "rich")}
    assert not {m for m in modules if m.startswith("gate.steward")}


def test_the_words_load_without_textual() -> None:
    """The docs generator runs where the console is not installed."""
    result, modules = imported_by(["-c", "import gate.steward.reasons_text, gate.steward.view"])
    assert result.returncode == 0, result.stderr
    assert "textual" not in modules


def test_steward_help_loads_no_textual() -> None:
    result, modules = imported_by(["-m", "gate", "steward", "--help"])
    assert result.returncode == 0 and "--as NAME" in result.stdout
    assert "textual" not in modules


def test_the_socket_comes_from_the_config(tmp_path) -> None:
    from gate.cli.steward import socket_from_config
    from gate.config import DEFAULT_CONTROL_SOCKET, load_config
    from tests.ledgerkit import signer, write_config

    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    plain = write_config(tmp_path / "a.toml", ledger_key=signer("a").public_key, state_dir=state)
    assert socket_from_config(load_config(plain)) == DEFAULT_CONTROL_SOCKET
    named = write_config(
        tmp_path / "b.toml",
        ledger_key=signer("a").public_key,
        state_dir=state,
        extra='[control]\nsocket = "/run/lane2/control.sock"\n',
    )
    assert socket_from_config(load_config(named)) == "/run/lane2/control.sock"
