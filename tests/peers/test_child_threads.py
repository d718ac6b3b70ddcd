"""The peer child holds a thread for every kept-alive connection of its port (64 at
most) beside the exchange's: under its own data memory cap, with the thread stacks it
sets, all of them start (RLIMIT_DATA counts thread stacks: at the default 8 MiB, fifty
peers' connections reached the cap and the child exited, over and over)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gate.peer_exchange import WORKERS
from gate.peer_service import MAX_CONNECTIONS
from gate.peer_worker import PEERS_MAX_DATA_MB, PEERS_THREAD_STACK

THREADS = """
import sys, threading
from gate.process_limits import cap_data_memory
assert cap_data_memory({cap})
threading.stack_size({stack})
stop = threading.Event()
threads = [threading.Thread(target=stop.wait) for _ in range({count})]
try:
    for t in threads:
        t.start()
    started = sum(t.is_alive() for t in threads)
except RuntimeError:
    started = sum(t.is_alive() for t in threads)
stop.set()
print(started)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux RLIMIT_DATA")
def test_every_connection_and_worker_gets_its_thread_under_the_cap() -> None:
    count = MAX_CONNECTIONS + WORKERS + 8  # the server, the database, discovery: a few
    code = THREADS.format(cap=PEERS_MAX_DATA_MB << 20, stack=PEERS_THREAD_STACK, count=count)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == count
