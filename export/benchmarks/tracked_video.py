"""``fer-analyze`` on a video with and without tracking: frames a second, and how often both give the same emotion.

A synthetic 640x480, 30 fps clip of one real face (the demo's astronaut example photo) drifting across the frame is
written once; then the local runner analyses it, one process, ``--tracking off`` and ``--tracking on`` in turn,
``repeats`` times each after one warm-up run of each, and the median frames a second of each mode are reported
(what ``fer-analyze`` prints for the session: from the first file to the summary, timelines included). Agreement is
the share of frames whose largest face has the same emotion in both modes (or no face in both).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

FRAME_SIZE = (640, 480)  # width, height
CLIP_FPS = 30


def write_moving_face_video(path: str | Path, frames: int = 300, fps: int = CLIP_FPS) -> Path:
    """A 640x480 mp4v video of the astronaut photo (420x420, her face about 80 px wide) drifting around the frame.

    Args:
        path: The video to write.
        frames: Its length in frames.
        fps: Its frame rate.

    Returns:
        ``path``.

    Raises:
        OSError: if OpenCV cannot write it.
    """
    import cv2
    import numpy as np

    from serving_demo import EXAMPLES_DIR

    photo = cv2.resize(cv2.imread(str(EXAMPLES_DIR / "astronaut.jpg")), (420, 420), interpolation=cv2.INTER_AREA)
    width, height = FRAME_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path} with the mp4v codec")
    try:
        for i in range(frames):
            frame = np.full((height, width, 3), 90, np.uint8)
            # A head moving to and fro: up to 3 px a frame sideways, 1 px up and down.
            x = round(110 + 100 * np.sin(2 * np.pi * i / 210))
            y = round(30 + 25 * np.sin(2 * np.pi * i / 150))
            frame[y : y + 420, x : x + 420] = photo
            cv2.putText(frame, str(i), (8, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
            writer.write(frame)
    finally:
        writer.release()
    return Path(path)


def largest_emotions(records: list[dict]) -> list[str]:
    """Per record, the emotion of its largest face, or ``"no face"``."""
    from serving_demo.analysis.engine import largest_face

    return [face["emotion"] if (face := largest_face(r["faces"])) else "no face" for r in records]


def run_tracked_video(
    frames: int = 300,
    repeats: int = 3,
    artifacts: str | None = None,
    backend: str | None = None,
    detector: str | None = None,
    threads: int | None = None,
    workdir: str | Path | None = None,
) -> dict:
    """``fer-analyze`` (local runner, one process) on the synthetic clip, with tracking off and on.

    Args:
        frames: Frames in the clip.
        repeats: Measured runs of each mode (after one warm-up run of each); the median is reported.
        artifacts: A fer-export directory (default: the shipped model).
        backend, detector: As for ``fer-analyze`` (default: its defaults).
        threads: CPU threads of the detector and classifier (default: the CPU cores, as ``fer-analyze``).
        workdir: Where the clip and outputs go (default: a temporary folder, removed after).

    Returns:
        ``{"frames", "width", "height", "repeats", "backend", "detector", "fps_off", "fps_on", "speedup",
        "runs_off", "runs_on", "agreement", "faces_off", "faces_on", "tracks"}``: frames/s (median and each run),
        the share of frames with the same emotion in both modes, frames with a face in each mode, and the track ids
        of the tracked run.
    """
    import json

    from model_zoo.artifacts import DEFAULT_BACKEND
    from serving_demo.analysis.local_runner import run_local
    from serving_demo.analysis.settings import AnalysisOptions, RunSettings
    from serving_demo.analysis.tracks import track_ids
    from serving_demo.detectors import DEFAULT_DETECTOR

    backend, detector = backend or DEFAULT_BACKEND, detector or DEFAULT_DETECTOR
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(workdir or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        clip = write_moving_face_video(folder / "moving_face.mp4", frames)

        def run(tracking: bool, number: int) -> tuple[float, list[dict]]:
            output = folder / f"tracking_{'on' if tracking else 'off'}_{number}.jsonl"
            settings = RunSettings(
                paths=(str(clip),), output=str(output), artifacts=artifacts, backend=backend, detector=detector,
                threads=threads, analysis=AnalysisOptions(tracking=tracking), overwrite=True, progress=False,
            )  # fmt: skip
            summary = run_local(settings)
            records = [json.loads(line) for line in output.read_text().splitlines()]
            return summary.session.frames_per_sec, records

        for tracking in (False, True):  # warm-up: imports, models, the timeline's matplotlib
            run(tracking, 0)
        runs: dict[bool, list[float]] = {False: [], True: []}
        records: dict[bool, list[dict]] = {}
        for number in range(1, repeats + 1):
            for tracking in (False, True):  # in turn, so that both modes see the same load on the machine
                fps, records[tracking] = run(tracking, number)
                runs[tracking].append(fps)
    off, on = largest_emotions(records[False]), largest_emotions(records[True])
    fps_off, fps_on = statistics.median(runs[False]), statistics.median(runs[True])
    return {
        "frames": len(records[True]),
        "width": FRAME_SIZE[0],
        "height": FRAME_SIZE[1],
        "repeats": repeats,
        "backend": backend,
        "detector": detector,
        "fps_off": round(fps_off, 1),
        "fps_on": round(fps_on, 1),
        "speedup": round(fps_on / fps_off, 2),
        "runs_off": [round(v, 1) for v in runs[False]],
        "runs_on": [round(v, 1) for v in runs[True]],
        "agreement": round(sum(a == b for a, b in zip(off, on)) / max(len(off), 1), 4),
        "faces_off": sum(e != "no face" for e in off),
        "faces_on": sum(e != "no face" for e in on),
        "tracks": track_ids(records[True]),
    }


def format_tracked_video(result: dict) -> str:
    """One line per mode, for a terminal.

    Args:
        result: ``run_tracked_video``'s.

    Returns:
        The lines.
    """
    return "\n".join(
        [
            f"tracked video: {result['frames']} frames {result['width']}x{result['height']}, {result['backend']}, "
            f"{result['detector']}, median of {result['repeats']}",
            f"  tracking off: {result['fps_off']:.1f} frames/s  (runs {result['runs_off']})",
            f"  tracking on:  {result['fps_on']:.1f} frames/s  (runs {result['runs_on']}), x{result['speedup']}",
            f"  same emotion as tracking off: {100 * result['agreement']:.1f} % of frames; tracks {result['tracks']}",
        ]
    )
