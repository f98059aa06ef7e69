"""What a run is asked to do: checks before the model is loaded, what must match to resume, threads."""

import os
from dataclasses import replace

import pytest

from serving_demo.analysis.settings import MAX_FRAME_PIXELS, MAX_VIDEO_SECONDS, AnalysisOptions, RunSettings
from serving_demo.tracking import CLASSIFY_EVERY, FULL_EVERY


def test_the_settings_are_checked_before_anything_is_loaded():
    RunSettings(("a",), "out.csv", analysis=AnalysisOptions(every=2)).check()
    with pytest.raises(ValueError, match="--output must end in .jsonl or .csv"):
        RunSettings(("a",), "out.txt").check()
    with pytest.raises(ValueError, match="--fps must be positive"):
        RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(fps=0)).check()
    with pytest.raises(ValueError, match="--max-video-seconds must be positive"):
        RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(max_video_seconds=-1)).check()
    with pytest.raises(ValueError, match="--max-frame-pixels must be positive"):
        RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(max_frame_pixels=0)).check()
    RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(max_video_seconds=None, max_frame_pixels=None)).check()
    with pytest.raises(ValueError, match="--annotate and --workers belong to the local runner"):
        RunSettings(("a",), "out.jsonl", workers=2).check_beam()
    with pytest.raises(ValueError, match="--annotate and --workers belong to the local runner"):
        RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(annotate_dir="ann")).check_beam()


def test_a_run_resumes_with_other_workers_threads_and_progress_but_not_other_sampling():
    settings = RunSettings(("a", "b"), "out.jsonl", analysis=AnalysisOptions(every=5, annotate_dir="ann"))
    assert settings.resume_key() == {
        "runner": "local", "paths": ["a", "b"], "detector": settings.detector, "backend": settings.backend,
        "artifacts": None, "every": 5, "fps": None, "annotate": "ann", "output": "out.jsonl", "follow_links": False,
        "max_video_seconds": MAX_VIDEO_SECONDS, "max_frame_pixels": MAX_FRAME_PIXELS, "tracking": "on",
        "full_every": FULL_EVERY, "classify_every": CLASSIFY_EVERY,
    }  # fmt: skip
    other_run = RunSettings(("a", "b"), "out.jsonl", threads=1, workers=4, progress=False, analysis=settings.analysis)
    assert other_run.resume_key() == settings.resume_key()
    assert RunSettings(("a", "b"), "out.jsonl").resume_key() != settings.resume_key()
    assert settings.resume_key("beam") == {**settings.resume_key(), "runner": "beam"}
    shorter = replace(settings.analysis, max_video_seconds=60)
    assert RunSettings(("a", "b"), "out.jsonl", analysis=shorter).resume_key() != settings.resume_key()
    assert RunSettings(("a", "b"), "out.jsonl", follow_links=True).resume_key()["follow_links"] is True
    # Tracked and untracked records never mix; untracked, the key is the one runs wrote before tracking existed.
    untracked = RunSettings(("a", "b"), "out.jsonl", analysis=replace(settings.analysis, tracking=False))
    tracked_only = ("tracking", "full_every", "classify_every")
    assert untracked.resume_key() == {k: v for k, v in settings.resume_key().items() if k not in tracked_only}
    with pytest.raises(ValueError, match="full_every must be at least 1"):
        RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(full_every=0)).check()
    with pytest.raises(ValueError, match="classify_every must be at least 1"):
        RunSettings(("a",), "out.jsonl", analysis=AnalysisOptions(classify_every=0)).check()


def test_each_process_gets_its_share_of_the_cores_unless_told():
    cores = os.cpu_count() or 1
    assert RunSettings(("a",), "o.jsonl").process_threads() == cores
    assert RunSettings(("a",), "o.jsonl", workers=cores * 2).process_threads() == 1
    assert RunSettings(("a",), "o.jsonl", workers=2, threads=3).process_threads() == 3
