# serial:PORT?board=lcus[&channel=1&baud=9600&rest=off|on&pulse_ms=800]
# serial:PORT?board=raw&on=HEX&off=HEX[&baud=9600&rest=off|on&pulse_ms=800]
#
#   PORT      a serial device (/dev/ttyUSB0, or better the stable
#             /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0) or any pyserial URL
#             (loop://, rfc2217://host:port); serial:///dev/ttyUSB0 is accepted too
#   board     lcus (default): LCUS-1/2/4/8 style CH340 boards taking 4-byte frames
#             A0 <channel> <state> <sum>, sum = (0xA0 + channel + state) & 0xFF,
#             state 01 energises and 00 releases: channel 1 on is A0 01 01 A2
#             raw: any other board; the bytes to send for on and off are given in hex
#   channel   lcus only: relay number on the board, 1..8 (default 1)
#   on, off   raw only, both required: frames in hex digits, e.g. on=A00101A2
#   baud      1200..115200 (default 9600, what LCUS boards use)
#   rest      resting state: off (default) or on; see docs/wiring.md
#   pulse_ms  default pulse length, 1..60000 ms (default 800)
"""USB (or any serial) relay boards, through pyserial's ``serial_for_url``.

Every command is one whole frame written and drained (``flush``) before the driver
counts the relay as moved. The port is opened exclusively, so a second process cannot
interleave frames with the daemon's. A port that cannot be opened, or a write that fails
or times out (board unplugged, cable loose) raises ``DeviceUnavailable`` naming the
port; the port is then closed and the next command reopens it, so a board plugged back
in works again without restarting the lane (the pulse timer's retries rely on that).
The boards do not report their state, so there is no read-back.
"""

from __future__ import annotations

import contextlib
import termios
from typing import Any

from drivers import DriverURL, Options
from errors import DeviceUnavailable

from .output import DEFAULT_PULSE_MS, Output, read_rest_and_pulse

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
WRITE_TIMEOUT_S = 1.0


def lcus_frame(channel: int, on: bool) -> bytes:
    """The LCUS command that switches ``channel`` (1..8) on or off."""
    state = 1 if on else 0
    return bytes((0xA0, channel, state, (0xA0 + channel + state) & 0xFF))


class SerialRelay(Output):
    """A relay on a serial board that switches on one frame and off another."""

    def __init__(
        self,
        url: str,
        *,
        port: str,
        on_frame: bytes,
        off_frame: bytes,
        baud: int = 9600,
        rest: bool = False,
        pulse_ms: int = DEFAULT_PULSE_MS,
    ) -> None:
        super().__init__(url, rest=rest, pulse_ms=pulse_ms)
        self.port = port
        self.baud = baud
        self.frames = {True: on_frame, False: off_frame}
        import serial  # here, not at the top: checking a URL must not need pyserial

        self._serial_mod = serial
        self._port: Any = None
        self._open()
        self.reset()

    @classmethod
    def settings(cls, url: DriverURL) -> dict[str, Any]:
        if not url.path:
            raise url.error(
                "no port: write serial:/dev/ttyUSB0?board=lcus (or another "
                "device path or pyserial URL)"
            )
        opts = Options(url)
        board = opts.choice("board", ("lcus", "raw"), "lcus")
        baud = opts.integer("baud", 9600, BAUD_RATES[0], BAUD_RATES[-1])
        if baud not in BAUD_RATES:
            raise url.error(f"option baud={baud} must be one of " + ", ".join(map(str, BAUD_RATES)))
        common = read_rest_and_pulse(opts)
        if board == "lcus":
            for name in ("on", "off"):
                if opts.present(name):
                    raise url.error(
                        f"option {name} is for board=raw; board=lcus builds its frames from channel"
                    )
            channel = opts.integer("channel", 1, 1, 8)
            on_frame, off_frame = lcus_frame(channel, True), lcus_frame(channel, False)
        else:
            if opts.present("channel"):
                raise url.error(
                    "option channel is for board=lcus; with board=raw give "
                    "the on= and off= frames of that channel"
                )
            on, off = opts.hex_bytes("on"), opts.hex_bytes("off")
            if on is None or off is None:
                raise url.error("board=raw needs both on=HEX and off=HEX")
            if on == off:
                raise url.error("board=raw: on and off frames are the same")
            on_frame, off_frame = on, off
        opts.done()
        return {
            "port": url.path,
            "on_frame": on_frame,
            "off_frame": off_frame,
            "baud": baud,
            **common,
        }

    def _open(self) -> None:
        serial = self._serial_mod
        try:
            self._port = serial.serial_for_url(
                self.port,
                baudrate=self.baud,
                timeout=0,
                write_timeout=WRITE_TIMEOUT_S,
                exclusive=True,
            )
        except (OSError, ValueError, termios.error) as exc:
            # SerialException is an OSError; ValueError is a malformed pyserial URL.
            raise DeviceUnavailable(
                f"relay port {self.port} cannot be opened ({self.url}): {exc}"
            ) from None

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(OSError, termios.error):
                port.close()  # may fail: it is already gone, that is why it is dropped

    def _drive(self, energised: bool) -> None:
        if self._port is None:
            self._open()
        frame = self.frames[energised]
        try:
            written = self._port.write(frame)
            self._port.flush()
        except (OSError, ValueError, termios.error) as exc:
            self._drop_port()
            raise DeviceUnavailable(
                f"relay port {self.port}: write failed ({self.url}): {exc}"
            ) from None
        if written is not None and written != len(frame):
            self._drop_port()
            raise DeviceUnavailable(
                f"relay port {self.port}: wrote {written} of {len(frame)} bytes ({self.url})"
            )

    def _release(self) -> None:
        self._drop_port()
