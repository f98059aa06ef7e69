"""Reading videos frame by frame with OpenCV, choosing which frames to analyse, and writing annotated copies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class VideoError(ValueError):
    """A video that OpenCV cannot open or decode; the message says which and why."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says: frames a second, frame count (may be 0 or approximate), width, height."""

    fps: float
    frames: int  # as the container says; may be 0 or approximate for some formats
    width: int
    height: int


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened ``cv2.VideoCapture`` and the video's frame rate, frame count and size.

    Args:
        path: The video file.

    Returns:
        ``(capture, info)``; the caller releases the capture.

    Raises:
        VideoError: if OpenCV cannot open the file as a video.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"{path}: not a video OpenCV can open (mp4, avi, mov, mkv and webm are supported)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    info = VideoInfo(
        fps=fps if fps > 0 else 30.0,  # some containers give none; 30 keeps times meaningful
        frames=int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def sampling_step(video_fps: float, every: int | None = None, fps: float | None = None) -> int:
    """Analyse one frame in this many: ``every`` frames, or enough to make ``fps`` frames a second, or all.

    Args:
        video_fps: The video's frame rate.
        every: Analyse every Nth frame.
        fps: Or about this many frames a second.

    Returns:
        The step, at least 1.

    Raises:
        ValueError: if both are given or either is not positive.
    """
    if every is not None and fps is not None:
        raise ValueError("give --every or --fps, not both")
    if every is not None:
        if every < 1:
            raise ValueError(f"--every must be at least 1, not {every}")
        return every
    if fps is not None:
        if fps <= 0:
            raise ValueError(f"--fps must be positive, not {fps}")
        return max(1, round(video_fps / fps))
    return 1


def iter_frames(
    capture: cv2.VideoCapture, step: int = 1, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray, bool]]:
    """Frames ``start`` to ``stop`` (exclusive; None: the end) of an opened video as ``(index, BGR frame,
    analysed)``, analysed for every frame whose index is a multiple of ``step``.

    Every frame is decoded: annotated copies need all of them, and for common codecs skipping a frame
    (``grab``) costs most of what decoding it does.

    Args:
        capture: The opened video.
        step: Analyse frames whose index is a multiple of this.
        start, stop: The frames to read.

    Yields:
        ``(index, BGR frame, analysed)`` until ``stop`` or the end of the video.
    """
    if start:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)  # FFmpeg decodes from the keyframe before: frame-accurate
    index = start
    while stop is None or index < stop:
        ok, frame = capture.read()
        if not ok:
            return
        yield index, frame, index % step == 0
        index += 1


def sampled_frames(
    path: str | Path, every: int | None = None, fps: float | None = None, start: int = 0, stop: int | None = None
) -> tuple[VideoInfo, Iterator[tuple[int, np.ndarray, bool]]]:
    """A video's facts and its frames ``start`` to ``stop`` as ``iter_frames`` gives them, sampled by ``every`` or
    ``fps`` (see ``sampling_step``); the file is closed when the frames are exhausted or abandoned.

    Args:
        path: The video file.
        every, fps: The sampling (``sampling_step``).
        start, stop: The frames to read (``iter_frames``).

    Returns:
        ``(info, frames)``.

    Raises:
        VideoError: if the video cannot be opened, or (while iterating) gives no frame to analyse.
    """
    capture, info = open_video(path)
    step = sampling_step(info.fps, every, fps)

    def frames() -> Iterator[tuple[int, np.ndarray, bool]]:
        analysed = 0
        try:
            for index, bgr, analyse in iter_frames(capture, step, start, stop):
                analysed += analyse
                yield index, bgr, analyse
            if analysed == 0:
                raise VideoError(f"{path}: no frame could be decoded")
        finally:
            capture.release()

    return info, frames()


def frame_ranges(frames: int, parts: int, step: int) -> list[tuple[int, int | None]]:
    """``parts`` consecutive (start, stop) frame ranges covering a video of about ``frames`` frames, split at
    multiples of ``step`` (the last runs to the end, whatever the container's count says).

    Args:
        frames: The video's frame count (as the container says).
        parts: How many ranges at most (one per process).
        step: The sampling step (``sampling_step``); a video with fewer than two analysed frames per part is
            not split.

    Returns:
        The ranges, in order; ``[(0, None)]`` for a video not split.
    """
    if parts <= 1 or frames < 2 * step * parts:
        return [(0, None)]
    size = -(-frames // parts // step) * step
    bounds = [i * size for i in range(parts) if i * size < frames]
    return [(start, bounds[i + 1] if i + 1 < len(bounds) else None) for i, start in enumerate(bounds)]


class AnnotatedVideo:
    """Writes an annotated copy of a video as mp4 (``mp4v``, which every OpenCV build can write and read back).

    Frames go to ``<path>.partial.mp4``, moved onto ``path`` by ``close``.

    Args:
        path: The annotated copy (its folder is made).
        fps, width, height: The video's frame rate and frame size.

    Raises:
        VideoError: if OpenCV cannot write mp4v here.
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(self.path.name + ".partial.mp4")
        self.writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not self.writer.isOpened():
            raise VideoError(f"OpenCV cannot write {self.path} with the mp4v codec")
        self.frames = 0

    def write(self, bgr: np.ndarray) -> None:
        """Append one BGR frame of the video's size."""
        self.writer.write(bgr)
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place (a killed run leaves no half-written copy under the final name).

        Returns:
            The annotated copy's path.
        """
        self.writer.release()
        self.partial.replace(self.path)
        return self.path

    def discard(self) -> None:
        """Stop writing and remove the unfinished copy."""
        self.writer.release()
        self.partial.unlink(missing_ok=True)
