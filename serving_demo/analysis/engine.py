"""The analysis itself: records for each image and analysed video frame, faces classified in batches.

``analyze`` is the Python API (one record at a time); ``analyze_source`` does one file and, for a video,
optionally writes its annotated copy; ``video_summary`` and ``plot_timeline`` describe a video's records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from serving_demo.analysis.records import make_record
from serving_demo.analysis.sources import Source, find_sources
from serving_demo.analysis.video import AnnotatedVideo, VideoError, sampled_frames
from serving_demo.drawing import draw_faces
from serving_demo.image_io import ImageInputError

BATCH_FRAMES = 16  # video frames whose faces are classified together
MAX_QUEUED = 256  # frames held for the annotated copy before their batch is classified early
READ_ERRORS = (ImageInputError, VideoError, OSError)


def analyze_source(
    source: Source,
    recognizer,
    every: int | None = None,
    fps: float | None = None,
    batch_frames: int = BATCH_FRAMES,
    annotate_dir: str | Path | None = None,
    backend: str | None = None,
    detector: str | None = None,
    frame_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict]:
    """The records of one file: one for an image, one per analysed frame of a video.

    Args:
        source: The file (``find_sources``).
        recognizer: An ``EmotionRecognizer``.
        every, fps: Analyse every Nth frame, or about ``fps`` frames a second (default: every frame).
        batch_frames: Frames whose faces are classified in one batch.
        annotate_dir: Write an annotated mp4 copy of a video here (every frame, with the latest faces drawn).
        backend, detector: Override the recognizer's.
        frame_range: Only frames start to stop (exclusive; None: the end) of a video, for splitting one video
            across processes (not with ``annotate_dir``).

    Raises:
        ImageInputError, VideoError, OSError: if the file cannot be read (nothing is yielded for an image;
            a video that breaks midway raises after its good frames).
    """
    if source.kind == "image":
        analysis = recognizer.analyze(source.path, backend=backend, detector=detector)
        yield make_record(source.name, analysis.image_size, analysis.faces)
        return
    info, frames = sampled_frames(source.path, every, fps, *frame_range)
    writer = None
    if annotate_dir is not None:
        writer = AnnotatedVideo(annotated_path(annotate_dir, source.name), info.fps, info.width, info.height)
    pending: list[tuple[int, np.ndarray]] = []  # analysed frames waiting for their batch
    queued: list[tuple[int, np.ndarray]] = []  # every frame since the last batch, for the annotated copy
    last_faces: list = []

    def flush() -> list[dict]:
        nonlocal last_faces
        frames = [bgr for _, bgr in pending]
        analyses = (
            recognizer.analyze_many(frames, backend=backend, channel_order="bgr", detector=detector) if frames else []
        )
        by_index = {index: analysis for (index, _), analysis in zip(pending, analyses)}
        for index, bgr in queued:  # each frame drawn with the faces of the last analysed frame up to it
            if index in by_index:
                last_faces = by_index[index].faces
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            writer.write(cv2.cvtColor(draw_faces(rgb, last_faces), cv2.COLOR_RGB2BGR))
        records = [
            make_record(source.name, a.image_size, a.faces, index, index / info.fps)
            for (index, _), a in zip(pending, analyses)
        ]
        pending.clear()
        queued.clear()
        return records

    try:
        for index, bgr, analyse in frames:
            if analyse:
                pending.append((index, bgr))
            if writer is not None:
                queued.append((index, bgr))
            if len(pending) >= batch_frames or len(queued) >= MAX_QUEUED:
                yield from flush()
        yield from flush()
        if writer is not None:
            writer.close()
            writer = None
    finally:
        frames.close()
        if writer is not None:
            writer.discard()


def frames_of(source: Source, every: int | None = None, fps: float | None = None) -> Iterator[tuple]:
    """``(frame, time_s, image)`` for what ``analyze_source`` analyses in a file: ``(None, None, path)`` for an
    image, each sampled BGR frame of a video.

    Raises:
        VideoError: if a video cannot be opened or gives no frame.
    """
    if source.kind == "image":
        yield None, None, source.path
        return
    info, frames = sampled_frames(source.path, every, fps)
    for index, bgr, analyse in frames:
        if analyse:
            yield index, index / info.fps, bgr


def annotated_path(annotate_dir: str | Path, name: str) -> Path:
    """Where the annotated copy of the video named ``name`` goes: its relative path under ``annotate_dir``, as mp4."""
    return Path(annotate_dir) / Path(name.lstrip("/")).with_suffix(".annotated.mp4")


def analyze(
    paths: Iterable[str],
    recognizer=None,
    every: int | None = None,
    fps: float | None = None,
    batch_frames: int = BATCH_FRAMES,
    annotate_dir: str | Path | None = None,
    backend: str | None = None,
    detector: str | None = None,
) -> Iterator[dict]:
    """Analyse images, folders, glob patterns and videos, one record at a time (the Python side of ``fer-analyze``).

    Args:
        paths: Files, folders (recursive) and glob patterns.
        recognizer: An ``EmotionRecognizer`` (default: the shipped model, default backend and detector).
        every, fps, batch_frames, annotate_dir, backend, detector: As for ``analyze_source``.

    Yields:
        Records (see ``serving_demo.analysis.records.make_record``); for a file that cannot be read, instead,
        ``{"source": name, "error": reason}``, and the analysis goes on.
    """
    if recognizer is None:
        from serving_demo.recognizer import EmotionRecognizer

        recognizer = EmotionRecognizer()
    sources, missing = find_sources(list(paths))
    for argument, reason in missing:
        yield {"source": argument, "error": reason}
    for source in sources:
        try:
            yield from analyze_source(source, recognizer, every, fps, batch_frames, annotate_dir, backend, detector)
        except READ_ERRORS as e:
            yield {"source": source.name, "error": str(e)}


def video_summary(records: list[dict], class_names: list[str]) -> dict:
    """A video's analysed time per emotion of its largest face (and with no face), as shares and seconds.

    Each analysed frame stands for the time until the next analysed frame (the last one for the median gap).
    """
    times = np.array([r["time_s"] for r in records], float)
    gaps = np.diff(times)
    durations = np.append(gaps, np.median(gaps) if len(gaps) else 0.0)
    seconds = dict.fromkeys([*class_names, "no face"], 0.0)
    for record, duration in zip(records, durations):
        faces = record["faces"]
        key = max(faces, key=lambda f: f["box"][2] * f["box"][3])["emotion"] if faces else "no face"
        seconds[key] += float(duration)
    total = float(durations.sum())
    return {
        "frames_analysed": len(records),
        "seconds_analysed": round(total, 3),
        "share": {k: round(v / total, 4) if total else 0.0 for k, v in seconds.items()},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def plot_timeline(records: list[dict], class_names: list[str], path: str | Path, title: str = "") -> Path:
    """A PNG of the largest face's probabilities over the video's time (gaps where no face was found)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from serving_demo.drawing import EMOTION_COLOURS

    times = [r["time_s"] for r in records]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for name in class_names:
        values = [
            max(r["faces"], key=lambda f: f["box"][2] * f["box"][3])["probabilities"][name] if r["faces"] else np.nan
            for r in records
        ]
        colour = np.array(EMOTION_COLOURS.get(name, (0, 0, 0))) / 255
        ax.plot(times, values, label=name, color=colour, linewidth=1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability (largest face)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
