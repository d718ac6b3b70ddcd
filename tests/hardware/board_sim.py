"""A simulated USB relay board on the master side of a pty, run as its own process.

    python board_sim.py FD lcus             LCUS frames: A0 <channel> <state> <sum>
    python board_sim.py FD raw ONHEX OFFHEX  any board: exactly these two frames

It reads what the driver under test wrote to the pty's slave end and checks it the way
the board's firmware would: byte for byte, checksum included. For every frame it prints
one line, flushed at once: ``<time.monotonic()> <HEX> <meaning>``, where the meaning is
``ch=N on|off`` (lcus), ``on|off`` (raw) or ``BAD <why>``. The test compares the HEX
exactly and uses the times to measure pulses where the board sees them.
"""

from __future__ import annotations

import os
import sys
import time


def report(frame: bytes, meaning: str) -> None:
    sys.stdout.write(f"{time.monotonic():.6f} {frame.hex().upper()} {meaning}\n")
    sys.stdout.flush()


def lcus(buffer: bytearray) -> None:
    while buffer:
        if buffer[0] != 0xA0:
            report(bytes(buffer[:1]), "BAD no A0 start byte")
            del buffer[:1]
            continue
        if len(buffer) < 4:
            return
        frame = bytes(buffer[:4])
        del buffer[:4]
        _, channel, state, total = frame
        if total != (0xA0 + channel + state) & 0xFF:
            report(frame, "BAD checksum")
        elif state not in (0, 1) or not 1 <= channel <= 8:
            report(frame, "BAD channel or state")
        else:
            report(frame, f"ch={channel} {'on' if state else 'off'}")


def raw(buffer: bytearray, frames: dict[bytes, str]) -> None:
    while buffer:
        for frame, meaning in frames.items():
            if buffer.startswith(frame):
                del buffer[: len(frame)]
                report(frame, meaning)
                break
        else:
            if any(frame.startswith(bytes(buffer)) for frame in frames):
                return  # a frame still arriving
            report(bytes(buffer[:1]), "BAD unexpected byte")
            del buffer[:1]


def main() -> None:
    fd, board = int(sys.argv[1]), sys.argv[2]
    frames = {}
    if board == "raw":
        frames = {bytes.fromhex(sys.argv[3]): "on", bytes.fromhex(sys.argv[4]): "off"}
    buffer = bytearray()
    print("ready", flush=True)
    while True:
        try:
            chunk = os.read(fd, 256)
        except OSError:  # EIO: every slave end is closed
            return
        if not chunk:
            return
        buffer += chunk
        if board == "lcus":
            lcus(buffer)
        else:
            raw(buffer, frames)


if __name__ == "__main__":
    main()
