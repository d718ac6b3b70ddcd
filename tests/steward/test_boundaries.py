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


def test_the_socket_comes_from_the_config_or_the_default() -> None:
    from types import SimpleNamespace

    from gate.cli.steward import DEFAULT_SOCKET, socket_from_config

    assert socket_from_config(SimpleNamespace()) == DEFAULT_SOCKET
    control = SimpleNamespace(socket="/run/lane2/control.sock")
    assert socket_from_config(SimpleNamespace(control=control)) == "/run/lane2/control.sock"
