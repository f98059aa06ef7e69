"""Reading videos frame by frame with OpenCV, choosing which frames to analyse, and writing annotated copies.

Only local files are read: a video is opened by the absolute path of an existing regular file, with OpenCV's FFmpeg
backend alone, FFmpeg's ``file`` protocol alone and the demuxers of the video extensions read (so no URL, no
``concat:`` or other protocol, no playlist or concat list that reaches further). Videos longer or with larger frames
than the limits are refused.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: FFmpeg's demuxers for mp4, mov, m4v, avi, mkv and webm: nothing else is probed (no HLS, concat lists, images).
DEMUXERS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "avi", "matroska", "webm")
#: What OpenCV hands FFmpeg when it opens a video (``OPENCV_FFMPEG_CAPTURE_OPTIONS``): local files only.
FFMPEG_CAPTURE_OPTIONS = f"protocol_whitelist;file|format_whitelist;{','.join(DEMUXERS)}"
URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, rtsp:, concat:, file:, subfile:, ...
_options_lock = threading.Lock()  # the options are a process-wide variable: one open at a time sets them


class VideoError(ValueError):
    """A video that OpenCV cannot open or decode, or that is over a limit; the message says which and why."""


@dataclass(frozen=True)
class VideoLimits:
    """The largest video read: its duration and its frames' size (None: no limit).

    Attributes:
        seconds: Longest duration, by the container's frame count and, while reading, by the frames read.
        frame_pixels: Most pixels a frame.
    """

    seconds: float | None = None
    frame_pixels: int | None = None

    def check_size(self, path: str | Path, width: int, height: int) -> None:
        """Refuse frames larger than ``frame_pixels``.

        Args:
            path: The video, for the message.
            width, height: A frame's size.

        Raises:
            VideoError: if the frame is too large.
        """
        if self.frame_pixels is not None and width * height > self.frame_pixels:
            raise VideoError(
                f"{path}: {width}x{height} frames, over the limit of {self.frame_pixels} pixels (--max-frame-pixels)"
            )

    def check_time(self, path: str | Path, seconds: float) -> None:
        """Refuse a video that lasts, or has reached, more than ``seconds``.

        Args:
            path: The video, for the message.
            seconds: Its duration, or the time of the frame being read.

        Raises:
            VideoError: if it is too long.
        """
        if self.seconds is not None and seconds > self.seconds:
            raise VideoError(f"{path}: longer than the limit of {self.seconds:g} s (--max-video-seconds)")


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says: frames a second, frame count (may be 0 or approximate), width, height."""

    fps: float
    frames: int  # as the container says; may be 0 or approximate for some formats
    width: int
    height: int


def local_video_path(path: str | Path) -> str:
    """The absolute path of a local video file: what ``open_video`` hands OpenCV, which FFmpeg reads as a file
    whatever its name (``/abs/concat:a.mp4`` is a file; ``concat:a.mp4`` would be FFmpeg's concat protocol).

    Args:
        path: The video file.

    Returns:
        Its absolute path.

    Raises:
        VideoError: for a URL or FFmpeg protocol, or anything that is not an existing regular file.
    """
    text = os.fspath(path)
    try:
        mode = os.stat(text).st_mode
    except OSError as e:
        if URL_LIKE.match(text):
            raise VideoError(f"{text}: only local video files are read, not URLs or FFmpeg protocols") from e
        raise VideoError(f"{text}: no such file (it may have been removed after the files were listed)") from e
    if not stat.S_ISREG(mode):
        raise VideoError(f"{text}: not a regular file (a device, FIFO or socket)")
    return os.path.abspath(text)


@contextmanager
def _local_files_only() -> Iterator[None]:
    """Within the block, OpenCV's FFmpeg opens only local files with the video demuxers (the user's own
    ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` are kept, under these)."""
    with _options_lock:
        before = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "|".join(filter(None, [before, FFMPEG_CAPTURE_OPTIONS]))
        try:
            yield
        finally:
            if before is None:
                del os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"]
            else:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = before


def open_video(path: str | Path, limits: VideoLimits | None = None) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened ``cv2.VideoCapture`` and the video's frame rate, frame count and size.

    Args:
        path: The video file: an existing regular file (``local_video_path``).
        limits: The longest video and largest frames to open (default: none).

    Returns:
        ``(capture, info)``; the caller releases the capture.

    Raises:
        VideoError: if the path is no local file, OpenCV cannot open it as a video, or its container says it is
            over ``limits``.
    """
    local = local_video_path(path)
    with _local_files_only():
        capture = cv2.VideoCapture(local, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise VideoError(f"{path}: not a video OpenCV can open (mp4, avi, mov, mkv and webm are supported)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    info = VideoInfo(
        fps=fps if fps > 0 else 30.0,  # some containers give none; 30 keeps times meaningful
        frames=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),  # a container without a duration: < 0
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    if limits is not None:
        try:
            limits.check_size(path, info.width, info.height)
            limits.check_time(path, info.frames / info.fps)
        except VideoError:
            capture.release()
            raise
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
    path: str | Path,
    every: int | None = None,
    fps: float | None = None,
    start: int = 0,
    stop: int | None = None,
    limits: VideoLimits | None = None,
) -> tuple[VideoInfo, Iterator[tuple[int, np.ndarray, bool]]]:
    """A video's facts and its frames ``start`` to ``stop`` as ``iter_frames`` gives them, sampled by ``every`` or
    ``fps`` (see ``sampling_step``); the file is closed when the frames are exhausted or abandoned.

    Args:
        path: The video file.
        every, fps: The sampling (``sampling_step``).
        start, stop: The frames to read (``iter_frames``).
        limits: The longest video and largest frames read, by the container and by the frames themselves (a
            container may say less than there is): default none.

    Returns:
        ``(info, frames)``.

    Raises:
        VideoError: if the video cannot be opened or is over ``limits``, or (while iterating) gives no frame to
            analyse or goes over ``limits``.
    """
    capture, info = open_video(path, limits)
    step = sampling_step(info.fps, every, fps)
    limits = limits or VideoLimits()

    def frames() -> Iterator[tuple[int, np.ndarray, bool]]:
        analysed = 0
        try:
            for index, bgr, analyse in iter_frames(capture, step, start, stop):
                limits.check_time(path, index / info.fps)
                limits.check_size(path, bgr.shape[1], bgr.shape[0])
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
