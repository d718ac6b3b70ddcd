"""``picamera2:`` against a stand-in module with picamera2's API (no Pi camera here)."""

from __future__ import annotations

import sys
import time
import types
from typing import ClassVar

import numpy as np
import pytest

from scanner import source_for_url


class FakePicamera2:
    """The parts of picamera2.Picamera2 the source uses, with the same signatures."""

    fail_opens: ClassVar[int] = 0  # the next N constructions fail (camera not connected)
    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self, camera_num: int = 0) -> None:
        if FakePicamera2.fail_opens:
            FakePicamera2.fail_opens -= 1
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.camera_num = camera_num
        self.config: dict | None = None
        self.started = self.closed = False
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict, controls: dict, buffer_count: int) -> dict:
        return {"main": main, "controls": controls, "buffer_count": buffer_count}

    def configure(self, config: dict) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        time.sleep(0.002)
        w, h = self.config["main"]["size"]
        yuv = np.full((h * 3 // 2, w), 128, np.uint8)  # Y plane, then U and V below it
        yuv[:h] = 77
        return yuv

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.delitem(sys.modules, "scanner.sources.pi_camera", raising=False)
    FakePicamera2.instances, FakePicamera2.fail_opens = [], 0
    return FakePicamera2


def test_gray_frames_from_the_y_plane(picamera2) -> None:
    with source_for_url("picamera2:1?width=640&height=480&fps=25") as source:
        frame = source.read(timeout=2)
        cam = picamera2.instances[0]
        assert cam.camera_num == 1 and cam.started
        assert cam.config["main"] == {"size": (640, 480), "format": "YUV420"}
        assert cam.config["controls"] == {"FrameRate": 25.0}
    assert frame.image.shape == (480, 640) and (frame.image == 77).all()
    assert cam.closed and not cam.started


def test_a_camera_that_fails_to_start_alarms_then_recovers(picamera2) -> None:
    picamera2.fail_opens = 2
    alarms: list[str | None] = []
    with source_for_url("picamera2:", on_alarm=alarms.append, retry_first=0.01) as source:
        assert source.read(timeout=5) is not None
    assert "did not complete" in alarms[0] and alarms[-1] is None
