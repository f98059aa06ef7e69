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

if TYPE_CHECKING:
    from serving_demo.recognizer import EmotionRecognizer

BATCH_FRAMES = 16  # video frames whose faces are classified together


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
    """

    every: int | None = None
    fps: float | None = None
    batch_frames: int = BATCH_FRAMES
    annotate_dir: str | None = None
    backend: str | None = None
    detector: str | None = None

    def check_sampling(self) -> None:
        """Check ``every`` and ``fps`` before any file is read.

        Raises:
            ValueError: if both are given or either is not positive.
        """
        from serving_demo.analysis.video import sampling_step

        sampling_step(30.0, self.every, self.fps)


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
        overwrite: Start afresh even if ``output`` exists (local runner).
        progress: Show a progress bar on stderr (local runner).
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

    def resume_key(self) -> dict:
        """What must match for a run to be resumed, as written in its progress log (the number of workers,
        threads and the progress display may change)."""
        annotate = self.analysis.annotate_dir
        return {
            "paths": list(self.paths), "detector": self.detector, "backend": self.backend,
            "artifacts": self.artifacts, "every": self.analysis.every, "fps": self.analysis.fps,
            "annotate": None if annotate is None else str(annotate), "output": str(self.output),
        }  # fmt: skip
