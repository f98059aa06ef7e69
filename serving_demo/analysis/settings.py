"""What an analysis run is asked to do: how each file is analysed (``AnalysisOptions``) and, for ``fer-analyze``'s
runners, the files, the output and the model (``RunSettings``).

Light on purpose (no OpenCV, no TensorFlow): the command line builds these before anything heavy is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from model_zoo.artifacts import DEFAULT_BACKEND
from serving_demo.analysis.records import output_format
from serving_demo.detectors import DEFAULT_DETECTOR
from serving_demo.tracking import CLASSIFY_EVERY, FULL_EVERY

if TYPE_CHECKING:
    from serving_demo.recognizer import EmotionRecognizer

BATCH_FRAMES = 16  # video frames whose faces are classified together
MAX_VIDEO_SECONDS = 4 * 3600.0  # longer videos are reported and skipped
MAX_FRAME_PIXELS = 4096 * 4096  # videos with larger frames are reported and skipped (4K fits, 8K does not)


@dataclass(frozen=True)
class AnalysisOptions:
    """How each file is analysed.

    Attributes:
        every: Analyse every Nth video frame (default: every frame).
        fps: Or about this many video frames a second.
        batch_frames: Video frames whose faces are classified in one batch.
        annotate_dir: Write an annotated mp4 copy of each video here (every frame, with the latest faces drawn).
        backend: Classifier backend instead of the recognizer's own.
        detector: Face detector instead of the recognizer's own.
        max_video_seconds: Longer videos are reported and skipped (None: no limit).
        max_frame_pixels: Videos whose frames have more pixels are reported and skipped (None: no limit).
        tracking: Follow each face of a video from frame to frame (its records carry a ``track_id``), the full
            detector running every ``full_every`` analysed frames and whenever a face is lost (``FaceTracker``);
            False detects faces in every frame.
        full_every: Analysed frames between scheduled full detections, with ``tracking``.
        classify_every: With ``tracking``, a face that barely moved is classified every this many analysed frames
            and keeps its latest probabilities in between (``tracking.ClassifySchedule``; 1: every frame).
    """

    every: int | None = None
    fps: float | None = None
    batch_frames: int = BATCH_FRAMES
    annotate_dir: str | None = None
    backend: str | None = None
    detector: str | None = None
    max_video_seconds: float | None = MAX_VIDEO_SECONDS
    max_frame_pixels: int | None = MAX_FRAME_PIXELS
    tracking: bool = True
    full_every: int = FULL_EVERY
    classify_every: int = CLASSIFY_EVERY

    def check_sampling(self) -> None:
        """Check ``every``, ``fps`` and the video limits before any file is read.

        Raises:
            ValueError: if both ``every`` and ``fps`` are given, or any of them or of the limits is not positive, or
                ``full_every`` or ``classify_every`` is below 1.
        """
        from serving_demo.analysis.video import sampling_step

        sampling_step(30.0, self.every, self.fps)
        limits = {"--max-video-seconds": self.max_video_seconds, "--max-frame-pixels": self.max_frame_pixels}
        for option, limit in limits.items():
            if limit is not None and not limit > 0:
                raise ValueError(f"{option} must be positive (0 on the command line: no limit), not {limit}")
        for name in ("full_every", "classify_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class RunSettings:
    """One ``fer-analyze`` run: what to read, where to write, with which model, how.

    Attributes:
        paths: Files, folders (recursive) and glob patterns.
        output: The records' file, ``.jsonl`` or ``.csv``.
        artifacts: A fer-export directory (None: the shipped model).
        backend: The recognizer's classifier backend.
        detector: The recognizer's face detector.
        threads: CPU threads of each process's detector and TFLite classifier (None: CPU cores / ``workers``
            for the local runner, the backend's own choice for Beam).
        analysis: How each file is analysed (its ``backend`` and ``detector`` stay None: the recognizer's).
        workers: Processes analysing files side by side (local runner).
        overwrite: Start afresh even if ``output`` exists and belongs to another run, or to none.
        progress: Show a progress bar on stderr (local runner).
        follow_links: Read files that symbolic links in a folder (or under a glob pattern's folder) lead to outside
            it; by default they are reported and skipped.
    """

    paths: tuple[str, ...]
    output: str
    artifacts: str | None = None
    backend: str = DEFAULT_BACKEND
    detector: str = DEFAULT_DETECTOR
    threads: int | None = None
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)
    workers: int = 1
    overwrite: bool = False
    progress: bool = True
    follow_links: bool = False

    def check(self) -> None:
        """Check what can be checked before the model is loaded: the output's format and the sampling.

        Raises:
            ValueError: if ``output`` does not end in ``.jsonl`` or ``.csv``, or the sampling is wrong.
        """
        output_format(self.output)
        self.analysis.check_sampling()

    def check_beam(self) -> None:
        """Check that nothing only the local runner does is asked of the Beam runner.

        Raises:
            ValueError: for annotated copies or more than one worker.
        """
        if self.analysis.annotate_dir or self.workers != 1:
            raise ValueError("--annotate and --workers belong to the local runner")

    def process_threads(self) -> int:
        """CPU threads for each local process: ``threads``, or the CPU cores shared among ``workers``."""
        return self.threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def recognizer(self, num_threads: int | None = None) -> EmotionRecognizer:
        """A recognizer with this run's artifacts, backend and detector.

        Args:
            num_threads: CPU threads of its detector and TFLite classifier (None: the backend's own choice).

        Returns:
            The ``EmotionRecognizer``.

        Raises:
            FileNotFoundError: if ``artifacts`` is not a fer-export directory.
            ValueError: if the backend is not in the artifacts.
        """
        from serving_demo.recognizer import EmotionRecognizer

        return EmotionRecognizer(self.artifacts, backend=self.backend, detector=self.detector, num_threads=num_threads)

    def resume_key(self, runner: str = "local") -> dict:
        """What must match for a run to go on with an output, as its claim holds it (``outputs.check_owner``;
        the number of workers, threads and the progress display may change). With tracking, its setting is part of
        it, so that a resumed run never mixes tracked and untracked records; without, the key is as runs made before
        tracking existed wrote it, and they go on with ``--tracking off``.

        Args:
            runner: ``"local"`` or ``"beam"``: a run never goes on with the other runner's output.

        Returns:
            The settings, as JSON.
        """
        annotate, analysis = self.analysis.annotate_dir, self.analysis
        return {
            "runner": runner, "paths": list(self.paths), "detector": self.detector, "backend": self.backend,
            "artifacts": self.artifacts, "every": analysis.every, "fps": analysis.fps,
            "annotate": None if annotate is None else str(annotate), "output": str(self.output),
            "follow_links": self.follow_links, "max_video_seconds": analysis.max_video_seconds,
            "max_frame_pixels": analysis.max_frame_pixels,
            **({"tracking": "on", "full_every": analysis.full_every, "classify_every": analysis.classify_every}
               if analysis.tracking else {}),
        }  # fmt: skip
