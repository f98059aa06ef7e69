"""The analysis itself: records for each image and analysed video frame, faces classified in batches.

``analyze`` is the Python API (one record at a time); ``analyze_source`` does one file and, for a video,
optionally writes its annotated copy; ``video_summary`` and ``plot_timeline`` describe a video's records, and with
tracking each person's too (``serving_demo.analysis.tracks``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer_runtime.atomic_files import atomic_path
from serving_demo.analysis.records import make_record
from serving_demo.analysis.settings import AnalysisOptions
from serving_demo.analysis.sources import Source, find_sources
from serving_demo.analysis.tracks import draw_track_lanes, track_ids, track_summaries
from serving_demo.analysis.video import AnnotatedVideo, VideoError, VideoLimits, sampled_frames, sampling_step
from serving_demo.drawing import draw_faces
from serving_demo.image_io import ImageInputError

if TYPE_CHECKING:
    from serving_demo.recognizer import EmotionRecognizer

MAX_QUEUED = 256  # frames held for the annotated copy before their batch is classified early
READ_ERRORS = (ImageInputError, VideoError, OSError)


def analyze_source(
    source: Source,
    recognizer: EmotionRecognizer,
    options: AnalysisOptions | None = None,
    frame_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict]:
    """The records of one file: one for an image, one per analysed frame of a video.

    Args:
        source: The file (``find_sources``).
        recognizer: An ``EmotionRecognizer``.
        options: Sampling, batching, annotated copies and backend or detector overrides (default: every frame,
            batches of ``BATCH_FRAMES``, no copy, the recognizer's backend and detector).
        frame_range: Only frames start to stop (exclusive; None: the end) of a video, for splitting one video
            across processes (not with ``options.annotate_dir``). With tracking, ``start`` should be a multiple of
            the sampling step times ``options.full_every`` (``local_runner.plan_tasks``), and the parts' track ids
            are joined afterwards (``tracks.join_track_ids``).

    Yields:
        Records (see ``serving_demo.analysis.records.make_record``), in frame order; with ``options.tracking``, a
        video's faces carry their ``track_id``.

    Raises:
        ImageInputError, VideoError, OSError: if the file cannot be read (nothing is yielded for an image;
            a video that breaks midway raises after its good frames).
    """
    options = options or AnalysisOptions()
    backend, detector = options.backend, options.detector
    if source.kind == "image":
        analysis = recognizer.analyze(source.path, backend=backend, detector=detector)
        yield make_record(source.name, analysis.image_size, analysis.faces)
        return
    info, frames = sampled_frames(source.path, options.every, options.fps, *frame_range, video_limits(options))
    first_frame = frame_range[0] // sampling_step(info.fps, options.every, options.fps)  # in analysed frames
    stream = recognizer.stream(options.tracking, detector, options.full_every, first_frame, options.classify_every)
    writer = None
    if options.annotate_dir is not None:
        writer = AnnotatedVideo(annotated_path(options.annotate_dir, source.name), info.fps, info.width, info.height)
    pending: list[tuple[int, np.ndarray]] = []  # analysed frames waiting for their batch
    queued: list[tuple[int, np.ndarray]] = []  # every frame since the last batch, for the annotated copy
    last_faces: list = []

    def flush() -> list[dict]:
        nonlocal last_faces
        frames = [bgr for _, bgr in pending]
        analyses = stream.analyze_many(frames, backend=backend, channel_order="bgr") if frames else []
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
            if len(pending) >= options.batch_frames or len(queued) >= MAX_QUEUED:
                yield from flush()
        yield from flush()
        if writer is not None:
            writer.close()
            writer = None
    finally:
        frames.close()
        if writer is not None:
            writer.discard()


def video_limits(options: AnalysisOptions) -> VideoLimits:
    """The longest video and largest frames ``options`` allow.

    Args:
        options: How each file is analysed.

    Returns:
        Its ``max_video_seconds`` and ``max_frame_pixels`` as ``VideoLimits``.
    """
    return VideoLimits(options.max_video_seconds, options.max_frame_pixels)


def frames_of(source: Source, options: AnalysisOptions | None = None) -> Iterator[tuple]:
    """What ``analyze_source`` analyses in a file, for runners that find and classify faces themselves.

    Args:
        source: The file.
        options: The sampling (``every``, ``fps``) and the video limits; the rest is not used (default: every
            frame, the default limits).

    Yields:
        ``(frame, time_s, image)``: ``(None, None, path)`` for an image, each sampled BGR frame of a video.

    Raises:
        VideoError: if a video cannot be opened, gives no frame or is over the limits.
    """
    options = options or AnalysisOptions()
    if source.kind == "image":
        yield None, None, source.path
        return
    info, frames = sampled_frames(source.path, options.every, options.fps, limits=video_limits(options))
    for index, bgr, analyse in frames:
        if analyse:
            yield index, index / info.fps, bgr


def annotated_path(annotate_dir: str | Path, name: str) -> Path:
    """Where the annotated copy of the video named ``name`` goes: its relative path under ``annotate_dir``, as mp4.

    Args:
        annotate_dir: The folder of annotated copies.
        name: The video's name in the records.

    Returns:
        ``<annotate_dir>/<name kept inside, see path_under>.annotated.mp4``.
    """
    return path_under(annotate_dir, name).with_suffix(".annotated.mp4")


def path_under(folder: str | Path, name: str) -> Path:
    """``name`` (a source's name in the records) as a path that stays inside ``folder``: a leading slash and ``.``
    parts dropped, ``..`` parts written ``__`` (a video given as ``../clips/a.mp4`` gets ``folder/__/clips/a.mp4``).
    """
    parts = [("__" if part == ".." else part) for part in PurePosixPath(name).parts if part not in ("/", ".")]
    return Path(folder, *parts)


def analyze(
    paths: Iterable[str],
    recognizer: EmotionRecognizer | None = None,
    options: AnalysisOptions | None = None,
    **fields,
) -> Iterator[dict]:
    """Analyse images, folders, glob patterns and videos, one record at a time (the Python side of ``fer-analyze``).

    Args:
        paths: Files, folders (recursive) and glob patterns.
        recognizer: An ``EmotionRecognizer`` (default: the shipped model, default backend and detector).
        options: How each file is analysed (see ``analyze_source``).
        **fields: ``AnalysisOptions`` fields one by one (``every=30``), over those of ``options``.

    Yields:
        Records (see ``serving_demo.analysis.records.make_record``); for a file that cannot be read, instead,
        ``{"source": name, "error": reason}``, and the analysis goes on.

    Raises:
        TypeError: for a keyword that is no ``AnalysisOptions`` field.
        FileNotFoundError: if the shipped model is missing (without ``recognizer``).
    """
    options = replace(options or AnalysisOptions(), **fields)
    if recognizer is None:
        from serving_demo.recognizer import EmotionRecognizer

        recognizer = EmotionRecognizer()
    return _records_of(list(paths), recognizer, options)


def _records_of(paths: list[str], recognizer: EmotionRecognizer, options: AnalysisOptions) -> Iterator[dict]:
    sources, missing = find_sources(paths)
    for argument, reason in missing:
        yield {"source": argument, "error": reason}
    for source in sources:
        try:
            yield from analyze_source(source, recognizer, options)
        except READ_ERRORS as e:
            yield {"source": source.name, "error": str(e)}


def largest_face(faces: list[dict]) -> dict | None:
    """The face of a record with the largest box, or None for a record without faces.

    Args:
        faces: A record's ``faces``.

    Returns:
        One of them, or None.
    """
    return max(faces, key=lambda f: f["box"][2] * f["box"][3]) if faces else None


def frame_durations(records: list[dict]) -> np.ndarray:
    """The time each analysed frame of a video stands for: until the next analysed frame (the last one: the
    median gap).

    Args:
        records: The video's records, in frame order.

    Returns:
        (N,) seconds.
    """
    times = np.array([r["time_s"] for r in records], float)
    gaps = np.diff(times)
    return np.append(gaps, np.median(gaps) if len(gaps) else 0.0)


def video_summary(records: list[dict], class_names: list[str]) -> dict:
    """A video's analysed time per emotion of its largest face (and with no face), as shares and seconds; for a
    tracked video, the same per person.

    Each analysed frame stands for the time until the next analysed frame (the last one for the median gap).

    Args:
        records: The video's records, in frame order.
        class_names: The classifier's classes.

    Returns:
        ``{"frames_analysed", "seconds_analysed", "share": {emotion: share}, "seconds": {emotion: seconds}}``,
        with ``"no face"`` among the emotions; if its faces carry track ids, also ``"tracks"``: one entry per
        track (``tracks.track_summaries``).
    """
    durations = frame_durations(records)
    seconds = dict.fromkeys([*class_names, "no face"], 0.0)
    for record, duration in zip(records, durations):
        face = largest_face(record["faces"])
        seconds[face["emotion"] if face else "no face"] += float(duration)
    total = float(durations.sum())
    summary = {
        "frames_analysed": len(records),
        "seconds_analysed": round(total, 3),
        "share": {k: round(v / total, 4) if total else 0.0 for k, v in seconds.items()},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    if track_ids(records):
        summary["tracks"] = track_summaries(records, durations, class_names)
    return summary


def plot_timeline(records: list[dict], class_names: list[str], path: str | Path, title: str = "") -> Path:
    """A PNG of the largest face's probabilities over the video's time (gaps where no face was found) and, for a
    tracked video, below it one lane per person, coloured by the emotion of each frame.

    Args:
        records: The video's records, in frame order.
        class_names: The classifier's classes, one line each.
        path: The PNG to write (its folder is made).
        title: The plot's title.

    Returns:
        ``path``.

    Raises:
        OSError: if the PNG cannot be written (nothing is left under ``path``'s name).
    """
    from matplotlib.figure import Figure  # no pyplot: no global figure state, and less to import

    from serving_demo.drawing import emotion_colour

    times = [r["time_s"] for r in records]
    lanes = len(track_ids(records))
    if lanes:
        lanes_height = min(0.6 + 0.3 * lanes, 6.0)
        fig = Figure(figsize=(10, 3.5 + lanes_height))
        ax, lanes_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3.5, lanes_height])
    else:
        fig = Figure(figsize=(10, 3.5))
        ax = fig.subplots()
    for name in class_names:
        values = [face["probabilities"][name] if (face := largest_face(r["faces"])) else np.nan for r in records]
        colour = np.array(emotion_colour(name)) / 255
        ax.plot(times, values, label=name, color=colour, linewidth=1.2)
    if lanes:
        draw_track_lanes(lanes_ax, records, frame_durations(records))
        lanes_ax.set_xlabel("time (s)")
        lanes_ax.grid(alpha=0.3, axis="x")
    else:
        ax.set_xlabel("time (s)")
    ax.set_ylabel("probability (largest face)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(alpha=0.3)
    # Margins in inches rather than tight_layout, which draws the figure once more to measure it: a third of the
    # plot's time, and a video's timeline counts in its analysis time.
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.8 / width, right=1 - 1.3 / width, bottom=0.5 / height, top=1 - 0.35 / height)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as staging:  # a kill or a full disk leaves no half-written PNG
        # zlib level 1: a sixth less time than the default 6 for a sixth more bytes (measured on a 300-frame plot)
        fig.savefig(staging, dpi=100, format="png", pil_kwargs={"compress_level": 1})
    return Path(path)
