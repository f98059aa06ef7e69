"""The local runner: tasks, worker processes, whole files put back together, and ``run_local`` itself."""

import json
from pathlib import Path

import cv2
import pytest

from serving_demo.analysis.cli import main
from serving_demo.analysis.local_runner import FileResult, Task, TaskResult, Worker, plan_tasks, run_local, whole_files
from serving_demo.analysis.settings import AnalysisOptions, RunSettings
from serving_demo.analysis.sources import Source
from tests.images import astronaut
from tests.serving_demo.analysis.helpers import read_records, sorted_lines


def test_two_worker_processes_give_the_same_records(tmp_path, work_folder):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main([str(work_folder), "--output", str(one), "--no-progress", "--every", "30"]) == 0
    assert main([str(work_folder), "--output", str(two), "--no-progress", "--every", "30", "--workers", "2"]) == 0
    assert sorted_lines(read_records(one)) == sorted_lines(read_records(two))


@pytest.mark.parametrize("tracking", ["on", "off"])
def test_one_video_split_across_two_processes_gives_the_same_records(video, tmp_path, tracking):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main([str(video), "--output", str(one), "--no-progress", "--tracking", tracking]) == 0
    assert main([str(video), "--output", str(two), "--no-progress", "--workers", "2", "--tracking", tracking]) == 0
    records = read_records(one)
    assert records == read_records(two)  # frame-accurate seeking, records in frame order; track ids joined
    ids = {face.get("track_id") for r in records for face in r["faces"]}
    assert ids == ({1} if tracking == "on" else {None})  # one face through the split at frame 50


def test_a_video_is_split_for_several_workers_unless_annotated(video, tmp_path):
    photo = Source(Path("a.jpg"), "a.jpg", "image")
    clip = Source(video, "clip.mp4", "video")
    broken = Source(tmp_path / "broken.mp4", "broken.mp4", "video")
    untracked = AnalysisOptions(tracking=False)
    assert plan_tasks([photo, clip], 1, untracked) == [Task(photo), Task(clip)]
    assert plan_tasks([photo, clip, broken], 2, untracked) == [
        Task(photo), Task(clip, 0, 45), Task(clip, 45, None), Task(broken)
    ]  # fmt: skip
    every_10 = AnalysisOptions(every=10, tracking=False)
    assert plan_tasks([clip], 3, every_10) == [Task(clip, 0, 30), Task(clip, 30, 60), Task(clip, 60)]
    # Tracked, a video is split only where a full detection is due: every 10 analysed frames by default.
    assert plan_tasks([clip], 2, AnalysisOptions()) == [Task(clip, 0, 50), Task(clip, 50)]
    assert plan_tasks([clip], 2, AnalysisOptions(every=3, full_every=5)) == [Task(clip, 0, 45), Task(clip, 45)]
    assert plan_tasks([clip], 3, AnalysisOptions(every=10)) == [Task(clip)]  # too few full detections to share
    assert plan_tasks([clip], 2, AnalysisOptions(annotate_dir=str(tmp_path))) == [Task(clip)]


def test_whole_files_come_in_frame_order_once_all_their_parts_are_done():
    photo, clip, bad = (Source(Path(n), n, k) for n, k in [("a.jpg", "image"), ("c.mp4", "video"), ("b.mp4", "video")])
    tasks = [Task(photo), Task(clip, 0, 2), Task(clip, 2), Task(bad, 0, 2), Task(bad, 2)]
    results = [
        TaskResult(tasks[2], [{"frame": 2}]),
        TaskResult(tasks[3], [{"frame": 0}]),
        TaskResult(tasks[0], [{"frame": None}]),
        TaskResult(tasks[4], [], "broken"),
        TaskResult(tasks[1], [{"frame": 0}, {"frame": 1}]),
    ]
    assert list(whole_files(results, tasks)) == [
        FileResult(photo, [{"frame": None}]),
        FileResult(bad, [], "broken"),
        FileResult(clip, [{"frame": 0}, {"frame": 1}, {"frame": 2}]),
    ]


def test_a_worker_gives_records_or_the_reason_a_file_cannot_be_read(recognizer, video, tmp_path):
    worker = Worker(recognizer, AnalysisOptions(every=10))
    part = worker(Task(Source(video, "clip.mp4", "video"), 20, 50))
    assert [r["frame"] for r in part.records] == [20, 30, 40] and part.error is None
    (tmp_path / "empty.jpg").write_bytes(b"")
    bad = worker(Task(Source(tmp_path / "empty.jpg", "empty.jpg", "image")))
    assert bad.records == [] and "empty" in bad.error


def test_run_local_returns_the_runs_summary_and_reports_what_it_skipped(tmp_path):
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not an image")
    out = tmp_path / "out" / "faces.jsonl"
    messages: list[str] = []
    settings = RunSettings(
        paths=(str(tmp_path / "face.png"), str(tmp_path / "notes.txt"), "missing/"), output=str(out), progress=False
    )
    summary = run_local(settings, messages.append)
    assert (summary.files_analysed, summary.files_skipped, summary.frames, summary.faces) == (1, 2, 1, 1)
    assert (summary.session.files, summary.session.frames, summary.session.faces) == (1, 1, 1)
    assert summary.output == out and [r["source"] for r in read_records(out)] == [str(tmp_path / "face.png")]
    assert messages[0] == "skipped missing/: no such file or folder"
    assert messages[1].startswith(f"skipped {tmp_path / 'notes.txt'}: ") and len(messages) == 2
    assert json.loads((out.parent / "faces.jsonl.summary.json").read_text()) == summary.as_json()
    messages.clear()
    again = run_local(settings, messages.append)  # everything read is not read again; what was not is tried again
    assert (again.files_analysed, again.files_skipped, again.session.files, again.session.frames) == (1, 2, 0, 0)
    assert messages[1] == f"resuming {out}: 1 of 2 files already done"
    assert messages[2].startswith(f"skipped {tmp_path / 'notes.txt'}: ") and len(messages) == 3
