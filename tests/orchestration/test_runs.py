"""What ``fer-pipeline`` reports of the runs under a root: progress, why a run stopped, status."""

from __future__ import annotations

import json

import pytest

from orchestration.runs import latest_run_id, progress_lines, status_lines, stopped_message
from orchestration.stage_cache import record_progress, run_dir


def test_the_progress_table_shows_finished_steps_and_the_status_what_runs_now(tmp_path):
    record_progress(tmp_path, "r1", "data", "started")
    record_progress(tmp_path, "r1", "data", "reused", key="k", summary="140 faces")
    record_progress(tmp_path, "r1", "train", "done", seconds=12.34, summary="validation accuracy 0.5")
    record_progress(tmp_path, "r1", "export", "started")
    assert progress_lines(tmp_path, "r1") == [
        "stage                     state     seconds  detail",
        "data                      reused             140 faces",
        "train                     done         12.3  validation accuracy 0.5",
    ]
    lines = status_lines(tmp_path)  # the latest run
    assert lines[0] == "run r1" and lines[1:3] == progress_lines(tmp_path, "r1")[:2]
    assert lines[-1].startswith("running (or killed): export started at ")
    (run_dir(tmp_path, "r1") / "lineage.json").write_text(json.dumps({"push": {"pushed": True, "version": 2}}))
    record_progress(tmp_path, "r1", "export", "done", seconds=1.0)
    assert status_lines(tmp_path, "r1")[-1] == (
        f"lineage: {tmp_path / 'runs' / 'r1' / 'lineage.json'}; push: {json.dumps({'pushed': True, 'version': 2})}"
    )


def test_a_stopped_run_names_the_step_that_failed(tmp_path):
    record_progress(tmp_path, "r1", "export", "failed", error="StageError: The parity gate failed")
    assert stopped_message(tmp_path, "r1", RuntimeError("task failed")) == (
        "run r1 stopped at stage export: StageError: The parity gate failed"
    )
    assert stopped_message(tmp_path, "r2", RuntimeError("task failed")) == "run r2 stopped at stage ?: task failed"


def test_a_root_without_runs_or_a_run_without_progress_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run under"):
        latest_run_id(tmp_path)
    run_dir(tmp_path, "empty")
    with pytest.raises(FileNotFoundError, match="run empty has no progress log under"):
        status_lines(tmp_path)


def test_an_unfinished_run_with_the_same_settings_goes_on_under_its_id(tmp_path):
    from orchestration.runs import check_run_id
    from orchestration.settings import SETTINGS_FILE, PipelineSettings
    from pipeline.lineage import LINEAGE_FILE

    settings = PipelineSettings(root=str(tmp_path)).with_absolute_paths()
    check_run_id(settings, "new")  # never used: fine
    run = run_dir(tmp_path, "killed")  # made on the way
    (run / SETTINGS_FILE).write_text(json.dumps(settings.to_dict()))
    check_run_id(settings, "killed")  # killed before its lineage: the same command goes on with it
    other = PipelineSettings(root=str(tmp_path), min_accuracy=0.5).with_absolute_paths()
    with pytest.raises(ValueError, match="run killed exists under .* with other settings"):
        check_run_id(other, "killed")
    (run / LINEAGE_FILE).write_text("{}")
    with pytest.raises(ValueError, match="run killed exists under .* and finished"):
        check_run_id(settings, "killed")
