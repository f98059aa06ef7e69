"""The pipeline's tests share one pipeline root: the first run trains, exports and pushes; later runs reuse it."""

from __future__ import annotations

import pytest

from tests.orchestration.pipeline_runs import FAST, invoke


@pytest.fixture(scope="session")
def smoke_pipeline(tmp_path_factory, fer_csv, data_dir):
    """The smoke pipeline's common options, and its first run (thresholds open: the smoke model guesses).

    Returns:
        ``root``, ``push_dir``, ``common`` (the options every run repeats) and ``first`` (the first run's exit
        status, stdout and stderr; it pushed version 1).
    """
    base = tmp_path_factory.mktemp("pipeline")
    root, push_dir = base / "root", base / "push"
    common = ["--preset", "smoke", "--data", str(fer_csv), "--data-dir", str(data_dir), "--root", str(root), *FAST]
    result = invoke(*common, "--push-dir", str(push_dir), "--max-accuracy-drop", "1", "--max-recall-drop", "1",
                    "--run-id", "first")  # fmt: skip
    return {"root": root, "push_dir": push_dir, "common": common, "first": result}
