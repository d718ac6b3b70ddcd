"""The configuration ``gate provision`` writes, read back by the gate's own parser."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from errors import InvalidArgument
from gate.config import parse_config
from gate.provision import Paths, Request, _check_request, config_text
from verifier import Signer

KEY = Signer(bytes(32)).public_key.hex()


def request(**changes: object) -> Request:
    base = {
        "hub": "http://hub.example:8000",
        "code": "X" * 12,
        "fingerprint": "fp",
        "device": "south-2",
        "events": ("show",),
        "camera": "synthetic:?fps=4",
        "relay": "sim:relay",
        "sensor": "sim:?follow=relay",
    }
    return Request(**{**base, **changes})  # type: ignore[arg-type]


def written(req: Request, tmp_path: Path):
    paths = Paths.under(tmp_path)
    text = config_text(req, KEY, paths)
    return parse_config(tomllib.loads(text), paths.config)


def test_a_lane_of_a_venue_gets_its_peers_and_passage_timeout(tmp_path: Path) -> None:
    req = request(
        peer_listen="127.0.0.1:7445",
        peers=("http://10.0.0.11:7445", "http://10.0.0.12:7445"),
        discover_peers=True,
        passage_timeout=4.0,
    )
    _check_request(req)
    cfg = written(req, tmp_path)
    assert cfg.peers is not None
    assert (cfg.peers.host, cfg.peers.port) == ("127.0.0.1", 7445)
    assert cfg.peers.urls == ("http://10.0.0.11:7445", "http://10.0.0.12:7445")
    assert cfg.peers.discover is True
    assert cfg.lane.passage_timeout == 4.0


def test_without_peer_options_there_is_no_peers_section(tmp_path: Path) -> None:
    cfg = written(request(), tmp_path)
    assert cfg.peers is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"peers": ("http://10.0.0.11:7445",)}, "--peer and --discover-peers need --peer-listen"),
        ({"discover_peers": True}, "need --peer-listen HOST:PORT"),
        ({"sensor": None, "passage_timeout": 3.0}, "--passage-timeout needs --sensor"),
    ],
)
def test_peer_and_sensor_options_without_their_base_are_refused(changes, message) -> None:
    with pytest.raises(InvalidArgument, match=message):
        _check_request(request(**changes))
