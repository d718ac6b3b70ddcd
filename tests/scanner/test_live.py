"""``v4l2:``: a camera read on a thread, newest frame only, lost and found again.

There is no camera here, so the capture factory is injected: it follows OpenCV's
VideoCapture API and a test switches the "device" off and on. Everything else (the
thread, the slot, the backoff, the alarms) is the real code.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from errors import DeviceClosed
from scanner import source_for_url
from scanner.sources.live import LiveCameraSource

from .conftest import clean_frame


class Device:
    """A camera that can be unplugged: captures opened on it fail while it is away."""

    def __init__(self, image: np.ndarray, present: bool = True, interval: float = 0.002):
        self.image, self.present, self.interval = image, present, interval
        self.opens = 0
        self.settings: dict[int, float] = {}

    def open(self, device: object) -> Capture:
        self.opens += 1
        return Capture(self)


class Capture:
    def __init__(self, device: Device) -> None:
        self.device = device
        self.open = device.present

    def isOpened(self) -> bool:
        return self.open

    def set(self, prop: int, value: float) -> bool:
        self.device.settings[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.device.settings.get(prop, 0.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self.device.interval)
        if not (self.open and self.device.present):
            return False, None
        return True, self.device.image

    def release(self) -> None:
        self.open = False


def wait_for(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


class Alarms:
    def __init__(self) -> None:
        self.seen: list[str | None] = []
        self.lock = threading.Lock()

    def __call__(self, text: str | None) -> None:
        with self.lock:
            self.seen.append(text)


def test_frames_flow_and_settings_reach_the_camera(codes: list[str]) -> None:
    device = Device(clean_frame([codes[0]]))
    url = "v4l2:/dev/video7?width=640&height=480&fps=15&fourcc=MJPG"
    with source_for_url(url, open_capture=device.open) as source:
        frame = source.read(timeout=2)
        assert frame is not None and frame.image is device.image
        later = source.read(timeout=2)
        assert later.index > frame.index and later.timestamp >= frame.timestamp
        assert source.alarm is None and source.yields == "frames"
    assert device.settings[cv2.CAP_PROP_FRAME_WIDTH] == 640
    assert device.settings[cv2.CAP_PROP_FRAME_HEIGHT] == 480
    assert device.settings[cv2.CAP_PROP_FPS] == 15
    assert device.settings[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
    assert device.settings[cv2.CAP_PROP_BUFFERSIZE] == 1
    source.close()  # safe twice
    assert source.ended
    with pytest.raises(DeviceClosed):  # a bug in the caller, not an unplugged camera
        source.read(timeout=0.01)


def test_only_the_newest_frame_is_kept() -> None:
    device = Device(np.zeros((48, 64), np.uint8), interval=0.001)
    with source_for_url("v4l2:/dev/video0", open_capture=device.open) as source:
        first = source.read(timeout=2)
        time.sleep(0.2)  # a slow decoder: ~100 frames arrive meanwhile
        newest = source.read(timeout=2)
        assert newest.index > first.index + 10  # skipped to the newest, no backlog
        assert source.dropped >= 10


def test_a_camera_missing_at_start_alarms_then_recovers() -> None:
    device = Device(np.zeros((48, 64), np.uint8), present=False)
    alarms = Alarms()
    with source_for_url(
        "v4l2:/dev/video0", open_capture=device.open, on_alarm=alarms, retry_first=0.01
    ) as source:
        wait_for(lambda: source.alarm is not None)
        assert "cannot be opened" in source.alarm and "/dev/video0" in source.alarm
        assert source.read(timeout=0.05) is None  # no frame, no exception
        wait_for(lambda: device.opens >= 3)  # it keeps trying, with backoff
        device.present = True  # plugged in
        assert source.read(timeout=5) is not None
        wait_for(lambda: source.alarm is None)
    assert alarms.seen[0] is not None and alarms.seen[-1] is None
    assert len(alarms.seen) == 2  # raised once while failing, cleared once


def test_a_camera_lost_mid_stream_alarms_then_recovers() -> None:
    device = Device(np.zeros((48, 64), np.uint8))
    alarms = Alarms()
    with source_for_url(
        "v4l2:/dev/video0?retry=0.2", open_capture=device.open, on_alarm=alarms, retry_first=0.01
    ) as source:
        assert source.read(timeout=2) is not None
        device.present = False  # unplugged
        wait_for(lambda: source.alarm is not None)
        assert "lost" in source.alarm
        opens = device.opens
        wait_for(lambda: device.opens > opens + 1)
        device.present = True
        wait_for(lambda: source.alarm is None)
        before = source.read(timeout=2)
        assert before is not None and source.read(timeout=2).index > before.index
        assert source.opened >= 2
    # "lost", then (while it stays away) "cannot be opened", then cleared once.
    assert "lost" in alarms.seen[0] and alarms.seen[-1] is None
    assert None not in alarms.seen[:-1]


def test_a_failing_alarm_callback_does_not_stop_the_camera() -> None:
    device = Device(np.zeros((48, 64), np.uint8), present=False)

    def broken(text: str | None) -> None:
        raise RuntimeError("steward screen is down")

    with source_for_url(
        "v4l2:/dev/video0", open_capture=device.open, on_alarm=broken, retry_first=0.01
    ) as source:
        wait_for(lambda: source.alarm is not None)
        device.present = True
        assert source.read(timeout=5) is not None


def test_close_stops_the_thread() -> None:
    device = Device(np.zeros((48, 64), np.uint8))
    source = source_for_url("v4l2:0", open_capture=device.open)
    assert isinstance(source, LiveCameraSource) and source.device == 0
    source.read(timeout=2)
    source.close()
    assert not source._thread.is_alive()


def test_picamera2_is_named_when_missing() -> None:
    with pytest.raises(ImportError, match="python3-picamera2"):
        source_for_url("picamera2:")
