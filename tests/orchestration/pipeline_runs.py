"""Helpers of the pipeline's tests: ``fer-pipeline`` in this process, and what a run's progress log says."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from orchestration.cli import main
from orchestration.stage_cache import read_progress

# Small and quick: the benchmark measures one backend briefly; the gate and int8 calibration use few faces.
FAST = ["--bench-backends", "tflite-int8", "--bench-iterations", "10", "--bench-faces", "32",
        "--parity-examples", "42", "--representative-examples", "32", "--verbose", "0"]  # fmt: skip
# The steps a rerun with unchanged inputs reads from the stage cache instead of running.
REUSABLE = ("data", "train", "export", "bench", "evaluate-candidate", "evaluate-candidate-int8")


def invoke(*args: str) -> tuple[int, str, str]:
    """``fer-pipeline ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def states(root: Path, run_id: str) -> dict[str, str]:
    """The last state of each stage of a run (started, reused, done, failed)."""
    return {e["stage"]: e["state"] for e in read_progress(root, run_id)}
