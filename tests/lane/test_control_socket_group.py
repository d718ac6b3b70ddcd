"""The control socket gets its group without a chown when it already has it: under the
lane's unit the socket is born in the gatehouse group, and the unit's seccomp filter
refuses chown (systemd/gatehouse.service)."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from gate import control_server
from gate.control_server import ControlServer


def _own_group() -> str:
    try:
        return grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        pytest.skip("this process's group has no name")


def test_no_chown_when_the_socket_already_has_the_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted (seccomp)")

    monkeypatch.setattr(control_server.os, "chown", refused)
    path = tmp_path / "control.sock"
    server = ControlServer(path, device="north-1", group=_own_group(), warn=print)
    try:
        st = path.stat()
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_gid == os.getgid()
    finally:
        server.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file another group")
def test_another_group_is_still_given(tmp_path: Path) -> None:
    other = next((g for g in grp.getgrall() if g.gr_gid != os.getgid()), None)
    if other is None:
        pytest.skip("no second group on this machine")
    path = tmp_path / "control.sock"
    server = ControlServer(path, device="north-1", group=other.gr_name, warn=print)
    try:
        assert path.stat().st_gid == other.gr_gid
    finally:
        server.close()


def test_a_socket_path_too_long_for_unix_sockets_names_the_limit(tmp_path: Path) -> None:
    """The kernel's own "AF_UNIX path too long" names neither the path nor the key."""
    from errors import ConfigError

    path = tmp_path / ("d" * 120) / "control.sock"
    with pytest.raises(ConfigError, match=r"\[control\] socket path is \d+ bytes; .* at most 107"):
        ControlServer(path, device="north-1", group=_own_group(), warn=print)
    assert not path.parent.exists()  # refused before anything was made
