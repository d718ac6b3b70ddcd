"""Block parsing in a child process, so a first sync's parsing and its SQLite writes run on
two cores.

:func:`~verifier.blocks.parse_block` is pure Python for the most part (strict JSON, the
events' shapes, the canonical JSON hashed, the holder keys), and so is the apply that
follows it: on one interpreter they take turns on the GIL, however many threads there
are. A :class:`ChildParser` sends each large line to ``python -m verifier.parse_child``,
which runs the very same ``parse_block`` and answers with the block's header fields and
hash, or with the refusal. The parent then decodes the events itself with the C JSON
decoder, which gives the same objects the strict parser gave for any line the strict
parser accepted (it refused duplicate keys, floats and constants; what is left decodes
alike), and the block is checked against the chain and applied as ever.

Lines under :data:`CHILD_LINE_BYTES` (heartbeats, a few sales) are parsed in this process:
a child costs a fraction of a second to start, so one is started for the first large
line and kept until :meth:`ChildParser.close`. If the child cannot be started or dies,
the lines are parsed in this process from then on: slower, never different.

The wire between the two: each request is a 4-byte big-endian length and the line's
bytes; each answer a 4-byte length and one JSON object, ``{"height", "prev", "time",
"sig", "hash"}`` (the hash in hex) or ``{"reason", "detail", "height"}``.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from typing import IO, Any

from errors import BlockRejected

from .blocks import Block, parse_block

#: Lines at least this long are parsed in the child (a block of some 200 issues).
CHILD_LINE_BYTES = 64 * 1024
_LENGTH = struct.Struct(">I")


class ChildParser:
    """``parse(text, line, source)`` as :func:`~verifier.blocks.parse_block`, large
    lines parsed in a child process. Used from one thread at a time; ``close()`` is
    safe twice."""

    def __init__(self, *, threshold: int = CHILD_LINE_BYTES) -> None:
        self.threshold = threshold
        self._child: subprocess.Popen[bytes] | None = None
        self._failed = False

    def parse(
        self, text: str | bytes, *, line: int | None = None, source: str | None = None
    ) -> Block:
        # Text (not bytes) is parsed here: only bytes travel to the child as they are.
        if not isinstance(text, bytes) or len(text) < self.threshold or self._failed:
            return parse_block(text, line=line, source=source)
        raw = text
        answer = self._ask(raw)
        if answer is None:  # no child: parse here
            return parse_block(text, line=line, source=source)
        if "reason" in answer:
            raise BlockRejected(
                answer["reason"],
                answer["detail"],
                height=answer["height"],
                line=line,
                source=source,
            )
        # The child's strict parse accepted these bytes, so they are UTF-8 and JSON.
        events = json.loads(raw)["events"]
        return Block(
            height=answer["height"],
            prev=answer["prev"],
            time=answer["time"],
            events=events,
            sig=answer["sig"],
            hash=bytes.fromhex(answer["hash"]),
        )

    def _ask(self, raw: bytes) -> dict[str, Any] | None:
        """The child's answer for one line, or None when there is no working child."""
        try:
            child = self._child or self._start()
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(_LENGTH.pack(len(raw)))
            child.stdin.write(raw)
            child.stdin.flush()
            size = _read_exactly(child.stdout, _LENGTH.size)
            reply = None if size is None else _read_exactly(child.stdout, _unpack(size))
            if reply is not None:
                answer: dict[str, Any] = json.loads(reply)
                return answer
        except (OSError, ValueError):
            pass
        # The child died or could not start (its output ended, a broken pipe): parse
        # here from now on.
        self._failed = True
        self.close()
        return None

    def _start(self) -> subprocess.Popen[bytes]:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "verifier.parse_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        return self._child

    def close(self) -> None:
        """End the child (its stdin closed, it exits; killed if it does not)."""
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        finally:
            if child.stdout is not None:
                child.stdout.close()


def _unpack(header: bytes) -> int:
    (size,) = _LENGTH.unpack(header)
    return int(size)


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    """``size`` bytes, or None when the stream ends first."""
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _answer(raw: bytes) -> dict[str, Any]:
    try:
        block = parse_block(raw)
    except BlockRejected as exc:
        return {"reason": exc.reason, "detail": exc.detail, "height": exc.height}
    return {
        "height": block.height,
        "prev": block.prev,
        "time": block.time,
        "sig": block.sig,
        "hash": block.hash.hex(),
    }


def main() -> None:
    """The child: answer each line on stdin until stdin closes."""
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        header = _read_exactly(stdin, _LENGTH.size)
        raw = None if header is None else _read_exactly(stdin, _unpack(header))
        if raw is None:  # the parent closed our input: done
            return
        reply = json.dumps(_answer(raw), ensure_ascii=True).encode("ascii")
        stdout.write(_LENGTH.pack(len(reply)) + reply)
        stdout.flush()


if __name__ == "__main__":
    main()
