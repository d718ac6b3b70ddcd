"""``serial:``: a hardware scanner's lines over a real pty pair, opened by pyserial.

The test holds the master side and plays the scanner: it writes what a scanner sends.
The source opens the slave's path exactly as it opens /dev/ttyACM0 on a lane.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from errors import TokenRejected
from scanner import source_for_url, texts_of
from scanner.frame import TextLine
from scanner.sources.serial_scanner import SerialScannerSource
from verifier import parse_token


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def read_lines(source: SerialScannerSource, count: int) -> list[TextLine]:
    out: list[TextLine] = []
    end = time.monotonic() + 5
    while len(out) < count and time.monotonic() < end:
        line = source.read(timeout=0.2)
        if line is not None:
            out.append(line)
    return out


def test_lines_with_every_terminator(pty_pair, codes: list[str]) -> None:
    master, path = pty_pair
    with source_for_url(f"serial:{path}?baud=115200") as source:
        assert source.yields == "texts" and source.alarm is None
        os.write(master, codes[0].encode() + b"\r\n")
        os.write(master, codes[1].encode() + b"\r")
        os.write(master, b"\r\n\n" + codes[2].encode()[:50])  # empty lines are no scans
        time.sleep(0.05)
        os.write(master, codes[2].encode()[50:] + b"\n")  # a line split over two reads
        lines = read_lines(source, 3)
    assert [line.text for line in lines] == codes
    assert [line.index for line in lines] == [0, 1, 2]
    assert all(line.valid_utf8 for line in lines)
    assert texts_of(lines[0], decoder=None) == [codes[0]]  # type: ignore[arg-type]


def test_a_line_that_is_not_utf8_is_delivered_not_fatal(pty_pair, codes: list[str]) -> None:
    master, path = pty_pair
    with source_for_url(f"serial:{path}") as source:
        os.write(master, b"GH1:\xff\xfeNOISE\x80\r\n" + codes[0].encode() + b"\r\n")
        bad, good = read_lines(source, 2)
    assert bad.raw == b"GH1:\xff\xfeNOISE\x80" and not bad.valid_utf8
    assert bad.text.startswith("GH1:") and "\ufffd" in bad.text
    with pytest.raises(TokenRejected) as refused:  # what the pipeline will make of it
        parse_token(bad.text)
    assert refused.value.reason == "malformed"
    assert good.text == codes[0]  # the lane goes on


def test_an_overlong_line_is_cut(pty_pair) -> None:
    master, path = pty_pair
    with source_for_url(f"serial:{path}?maxline=32") as source:
        os.write(master, b"A" * 100 + b"\r\nNEXT\r\n")
        long, following = read_lines(source, 2)
    assert long.raw == b"A" * 32 and following.text == "NEXT"


def test_a_missing_port_alarms_and_is_opened_when_it_appears(tmp_path, codes) -> None:
    link = tmp_path / "ttyACM0"  # a by-id style name that appears when plugged in
    alarms: list[str | None] = []
    with source_for_url(f"serial:{link}", on_alarm=alarms.append, retry_first=0.02) as source:
        assert source.alarm is not None and "cannot be opened" in source.alarm
        assert source.read(timeout=0.1) is None
        master, slave = os.openpty()
        try:
            link.symlink_to(os.ttyname(slave))
            end = time.monotonic() + 5
            while source.alarm is not None:  # reopening happens as the lane reads
                assert source.read(timeout=0.05) is None and time.monotonic() < end
            os.write(master, codes[0].encode() + b"\r\n")
            (line,) = read_lines(source, 1)
            assert line.text == codes[0] and source.alarm is None
        finally:
            source.close()
            os.close(master)
            os.close(slave)
    assert alarms[0] is not None and alarms[-1] is None


def test_loop_url_works_for_benches(codes: list[str]) -> None:
    with source_for_url("serial:loop://") as source:
        source._serial.write(codes[1].encode() + b"\n")
        assert read_lines(source, 1)[0].text == codes[1]
