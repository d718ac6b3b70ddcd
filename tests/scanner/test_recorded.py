"""``images:`` and ``file:`` replay recorded material in order, end, and survive a cut."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from errors import DeviceUnavailable
from scanner import decoder_for_name, source_for_url

from .conftest import clean_frame

SIZE = (320, 240)


def numbered(i: int) -> np.ndarray:
    """A frame whose top half's brightness says which it is (survives MJPEG), over
    noise that does not compress, so a clip is big enough to be read from disk
    piecemeal as a real one is, not buffered whole."""
    image = np.random.default_rng(i).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
    image[: SIZE[1] // 2] = 10 + 6 * i
    return image


def number_of(image: np.ndarray) -> int:
    return round((float(image[: SIZE[1] // 2 - 8].mean()) - 10) / 6)


def write_clip(path: Path, count: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE)
    assert writer.isOpened()
    for i in range(count):
        writer.write(numbered(i))
    writer.release()
    return path


def test_images_replay_in_name_order_and_end(tmp_path: Path, codes: list[str]) -> None:
    for i in (3, 1, 2, 10):
        cv2.imwrite(str(tmp_path / f"{i:04d}.png"), clean_frame([codes[i % 3]], seed=i))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "0005.jpg").write_bytes(b"broken")  # unreadable: skipped, not fatal
    decoder = decoder_for_name()
    with source_for_url(f"images:{tmp_path}") as source:
        frames = list(source)
        assert source.ended and source.read() is None
        assert [Path(p).name for p in source.skipped] == ["0005.jpg"]
    assert [Path(f.origin).name for f in frames] == ["0001.png", "0002.png", "0003.png", "0010.png"]
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [decoder.decode(f.image) for f in frames] == [
        [codes[1]],
        [codes[2]],
        [codes[0]],
        [codes[1]],
    ]


def test_images_of_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable, match="not a directory"):
        source_for_url(f"images:{tmp_path / 'nowhere'}")


def test_images_loop(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), numbered(1))
    cv2.imwrite(str(tmp_path / "b.png"), numbered(2))
    with source_for_url(f"images:{tmp_path}?loop=1") as source:
        got = [Path(source.read().origin).name for _ in range(5)]
    assert got == ["a.png", "b.png", "a.png", "b.png", "a.png"]


def test_file_replays_in_order_and_ends(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.avi", 12)
    with source_for_url(f"file:{clip}") as source:
        frames = list(source)
        assert source.ended and source.alarm is None
    assert [number_of(f.image) for f in frames] == list(range(12))
    assert [f.index for f in frames] == list(range(12))
    source.close()  # safe twice


def test_file_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailable, match="does not exist"):
        source_for_url(f"file:{tmp_path / 'none.mp4'}")
    (tmp_path / "junk.mp4").write_bytes(b"\0" * 100)
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        source_for_url(f"file:{tmp_path / 'junk.mp4'}")


def test_file_cut_off_raises_the_alarm_and_recovers(tmp_path: Path) -> None:
    """The clip is truncated on disk while being replayed, then made whole again."""
    clip = write_clip(tmp_path / "clip.avi", 40)
    whole = clip.read_bytes()
    alarms: list[str | None] = []
    raised = threading.Event()

    def on_alarm(text: str | None) -> None:
        alarms.append(text)
        if text:
            raised.set()

    with source_for_url(f"file:{clip}", on_alarm=on_alarm, retry_first=0.02) as source:
        got = [number_of(source.read().image) for _ in range(3)]
        clip.write_bytes(whole[: len(whole) // 3])  # the stick is pulled mid-copy
        while not raised.is_set():
            frame = source.read(timeout=0.05)
            if frame is not None:
                got.append(number_of(frame.image))
            assert len(got) < 40, "the cut was never noticed"
        assert "cut off at frame" in alarms[-1] and source.alarm == alarms[-1]
        assert source.read(timeout=0.1) is None  # still cut: nothing, and no exception
        clip.write_bytes(whole)  # the file is whole again
        got += [number_of(f.image) for f in source]
        assert source.alarm is None and alarms[-1] is None
    assert got == list(range(40))  # nothing lost, nothing repeated


class FlakyCapture:
    """OpenCV's VideoCapture API over numbered frames, failing from ``fail_at`` on."""

    def __init__(self, total: int, fail_at: int | None) -> None:
        self.total, self.fail_at, self.pos = total, fail_at, 0

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return float(self.total) if prop == cv2.CAP_PROP_FRAME_COUNT else 0.0

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_FRAMES:
            self.pos = int(value)
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.pos >= self.total or (self.fail_at is not None and self.pos >= self.fail_at):
            return False, None
        self.pos += 1
        return True, numbered(self.pos - 1)

    def release(self) -> None:
        pass


def test_file_read_errors_raise_the_alarm_and_recover(tmp_path: Path) -> None:
    """Reads that fail mid-way (the capture factory injected), then a good reopen."""
    clip = tmp_path / "clip.avi"
    clip.write_bytes(b"x")
    opens = iter([FlakyCapture(10, fail_at=4), None, FlakyCapture(10, fail_at=None)])
    alarms: list[str | None] = []
    with source_for_url(
        f"file:{clip}",
        on_alarm=alarms.append,
        retry_first=0.01,
        open_capture=lambda path: next(opens),
    ) as source:
        got = [number_of(f.image) for f in source]
    assert got == list(range(10))
    assert alarms[0] is not None and "cut off at frame 4 of 10" in alarms[0]
    assert alarms[-1] is None
