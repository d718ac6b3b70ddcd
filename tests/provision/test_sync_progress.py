"""The first sync's plain lines (a pipe, the journal): how often, and what they say."""

from __future__ import annotations

import io

from gate.sync_progress import SyncProgress
from sync.client import PullProgress


def test_plain_lines_every_two_seconds_with_rate_and_time_left() -> None:
    now = [100.0]
    out = io.StringIO()
    with SyncProgress(out, clock=lambda: now[0]) as progress:
        progress(PullProgress(height=-1, hub_height=999, blocks=0, tickets=0))
        for block in range(1, 401):  # 400 blocks in 4 s: 100 blocks/s
            now[0] += 0.01
            progress(PullProgress(block - 1, 999, block, block * 50))
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "sync: 200/1,000 blocks (20%), 10,000 tickets, 100 blocks/s, about 8 s left"
    )
    assert lines[1] == (
        "sync: 400/1,000 blocks (40%), 20,000 tickets, 100 blocks/s, about 6 s left"
    )
    assert lines[2] == "sync: 400 block(s), 20,000 ticket(s) in 4.0 s; ledger height 399 of 999"
    assert len(lines) == 3 and "\x1b" not in out.getvalue()


def test_without_the_hubs_height_it_says_the_time_left_is_unknown() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = SyncProgress(out, clock=lambda: now[0], every_s=1.0)
    now[0] = 1.5
    progress(PullProgress(height=59, hub_height=None, blocks=60, tickets=7))
    assert out.getvalue() == "sync: 60 blocks, 7 tickets, 40 blocks/s, time left unknown\n"


def test_a_hub_that_sent_nothing_is_said_so() -> None:
    out = io.StringIO()
    with SyncProgress(out, clock=lambda: 5.0):
        pass
    assert out.getvalue() == "sync: nothing received from the hub (0.0 s)\n"
