"""What the analysis tests share: a video made from a real photograph, a folder of work, reading records back."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from tests.images import astronaut

SEGMENT = 30  # frames per segment; the video runs at 30 fps


def segment_frame(kind: str, i: int) -> np.ndarray:
    """A 640x480 BGR frame: the astronaut smiling, the same photo with her mouth blurred (seed_cnn_fer2013_v1 reads
    surprise), or a scene with no face; a frame counter in a corner makes every frame different."""
    face = astronaut().copy()
    if kind == "blurred":
        face[135:180, 190:260] = cv2.GaussianBlur(face[135:180, 190:260], (31, 31), 0)
    frame = np.full((480, 640, 3), 70, np.uint8)
    if kind != "empty":
        frame[:, 64:576] = cv2.resize(face, (512, 480), interpolation=cv2.INTER_AREA)
    cv2.putText(frame, str(i), (8, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


def write_segments_video(path: Path) -> Path:
    """90 frames at 30 fps: smiling (0-29), mouth blurred (30-59), no face (60-89)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for i in range(3 * SEGMENT):
        writer.write(segment_frame(("smiling", "blurred", "empty")[i // SEGMENT], i))
    writer.release()
    return path


def write_folder_of_work(folder: Path, video: Path) -> Path:
    """Six photos (the astronaut shifted) and a copy of ``video`` as ``clip.mp4`` in ``folder``."""
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"photo{i}.jpg"), cv2.cvtColor(np.roll(astronaut(), 7 * i, axis=1), cv2.COLOR_RGB2BGR))
    (folder / "clip.mp4").write_bytes(video.read_bytes())
    return folder


def read_records(path: Path) -> list[dict]:
    """The records of a ``.jsonl`` output."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def sorted_lines(records: list[dict]) -> list[str]:
    """Records as sorted JSON text, to compare runs that write files in different orders."""
    return sorted(map(json.dumps, records))


def write_small_video(path: Path, frames: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    """A small video of gray frames, each a different shade (``.mp4`` or ``.mkv``, mp4v)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (7 * i) % 256, np.uint8))
    writer.release()
    return path


def write_video_without_duration(path: Path, frames: int = 90) -> Path:
    """A Matroska video (``.mkv``) whose container does not say how long it is, as some recorders write them:
    its Duration element is turned into padding, so OpenCV's frame count is meaningless."""
    write_small_video(path, frames)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration: id 0x4489, size 8, a float
    assert at > 0, "no Duration element"
    data[at : at + 11] = b"\xec\x89" + bytes(9)  # an EBML Void element of the same length
    path.write_bytes(bytes(data))
    return path
