"""fer-analyze --runner beam: the same records, limits and refusals as the local runner, through Apache Beam and
RunInference."""

import json

import cv2
import pytest

from serving_demo.analysis.cli import main
from serving_demo.analysis.settings import AnalysisOptions, RunSettings
from tests.images import astronaut
from tests.serving_demo.analysis.helpers import (
    read_records,
    sorted_lines,
    write_small_video,
    write_video_without_duration,
)


def test_the_beam_pipeline_gives_the_local_runs_records(work_folder, tmp_path, capsys):
    import apache_beam  # noqa: F401  the beam extra, which make test installs

    (work_folder / "broken.jpg").write_bytes(b"not a jpeg")
    local, beam = tmp_path / "local.jsonl", tmp_path / "beam.jsonl"
    assert main([str(work_folder), "--output", str(local), "--no-progress", "--every", "15"]) == 0
    assert (
        main(
            [str(work_folder), "--output", str(beam), "--every", "15", "--runner", "beam", "--direct_num_workers", "1"]
        )
        == 0
    )
    assert sorted_lines(read_records(beam)) == sorted_lines(read_records(local))
    skipped = [json.loads(line) for line in (tmp_path / "beam.jsonl.skipped.jsonl").read_text().splitlines()]
    assert [s["source"] for s in skipped] == ["broken.jpg"] and "not an image" in skipped[0]["error"]
    csv_out = tmp_path / "beam.csv"
    assert main([str(work_folder), "--output", str(csv_out), "--every", "45", "--runner", "beam"]) == 0
    assert csv_out.read_text().splitlines()[0].startswith("source,frame,time_s")
    assert main([str(work_folder), "--output", str(beam), "--runner", "beam", "--annotate", str(tmp_path)]) == 2


def test_analyze_with_beam_returns_what_it_did(tmp_path):
    from serving_demo.analysis.beam_pipeline import analyze_with_beam

    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    messages: list[str] = []
    settings = RunSettings((str(tmp_path / "broken.jpg"), "missing/"), str(tmp_path / "out.jsonl"))
    summary = analyze_with_beam(settings, beam_args=["--direct_num_workers", "1"], report=messages.append)
    assert (summary.runner, summary.files, summary.unreadable, summary.analysed, summary.skipped) == (
        "DirectRunner", 1, 1, 0, 2
    )  # fmt: skip
    assert messages == ["skipped missing/: no such file or folder"]
    assert (tmp_path / "out.jsonl").read_text() == ""
    with pytest.raises(ValueError, match="belong to the local runner"):
        analyze_with_beam(RunSettings(("a",), "o.jsonl", analysis=AnalysisOptions(annotate_dir="ann")))


def test_both_runners_refuse_an_output_that_is_not_their_runs_with_the_same_line(tmp_path, capsys):
    pytest.importorskip("apache_beam")
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    stranger = tmp_path / "results.jsonl"
    stranger.write_text("precious\n")
    lines = []
    for runner in ["local", "beam"]:
        assert main([str(photo), "--output", str(stranger), "--no-progress", "--runner", runner]) == 2
        lines.append(capsys.readouterr().err)
    assert (
        lines[0]
        == lines[1]
        == (
            f"fer-analyze: error: {stranger} exists and is not the output of a fer-analyze run: "
            "use --overwrite or another --output\n"
        )
    )
    assert stranger.read_text() == "precious\n" and not (tmp_path / "results.jsonl.progress.jsonl").exists()
    out = tmp_path / "out.jsonl"
    assert main([str(photo), "--output", str(out), "--no-progress"]) == 0
    local_records = read_records(out)
    capsys.readouterr()
    assert main([str(photo), "--output", str(out), "--runner", "beam"]) == 2  # the local run's output
    assert "was written by another fer-analyze command (runner: 'local' there, 'beam' here)" in capsys.readouterr().err
    assert main([str(photo), "--output", str(out), "--runner", "beam", "--overwrite"]) == 0
    assert read_records(out) == local_records
    assert main([str(photo), "--output", str(out), "--runner", "beam"]) == 0  # its own: done again, replaced
    assert read_records(out) == local_records
    capsys.readouterr()
    assert main([str(photo), "--output", str(out), "--no-progress"]) == 2  # now Beam's
    assert "(runner: 'beam' there, 'local' here)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "face.png", "out.jsonl", "out.jsonl.progress.jsonl", "out.jsonl.skipped.jsonl", "results.jsonl"
    ]  # fmt: skip


def test_videos_over_the_limits_are_skipped_whole_by_both_runners(tmp_path):
    pytest.importorskip("apache_beam")
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "face.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    write_video_without_duration(folder / "long.mkv", frames=60)  # 2 s, and its container does not say so
    write_small_video(folder / "wide.mp4", frames=3, size=(128, 96))
    limits = ["--max-video-seconds", "1", "--max-frame-pixels", "5000"]
    local, beam = tmp_path / "local.jsonl", tmp_path / "beam.jsonl"
    assert main([str(folder), "--output", str(local), "--no-progress", *limits]) == 0
    assert main([str(folder), "--output", str(beam), "--runner", "beam", *limits]) == 0
    assert [r["source"] for r in read_records(local)] == ["face.png"]  # no frame of long.mkv before the limit
    assert read_records(beam) == read_records(local)
    summary = json.loads((tmp_path / "local.jsonl.summary.json").read_text())
    reasons = {s["source"]: s["reason"] for s in summary["skipped"]}
    skipped = [json.loads(line) for line in (tmp_path / "beam.jsonl.skipped.jsonl").read_text().splitlines()]
    assert {s["source"]: s["error"] for s in skipped} == reasons
    assert "longer than the limit of 1 s (--max-video-seconds)" in reasons["long.mkv"]
    assert "128x96 frames, over the limit of 5000 pixels (--max-frame-pixels)" in reasons["wide.mp4"]


def test_a_failed_write_in_the_pipeline_becomes_one_line():
    pytest.importorskip("apache_beam")
    from serving_demo.analysis.beam_pipeline import pipeline_error
    from serving_demo.analysis.outputs import OutputError

    try:
        try:
            raise OSError(27, "File too large")
        except OSError:
            raise RuntimeError("OSError: [Errno 27] File too large [while running 'Write/Write/WriteImpl']") from None
    except RuntimeError as e:
        in_this_process = pipeline_error(e, "out.jsonl")  # the original is the context
    assert isinstance(in_this_process, OutputError)
    assert str(in_this_process).startswith("cannot write out.jsonl: File too large; the output is left as it was")
    from_a_worker = RuntimeError("Traceback ...\nOSError: [Errno 28] No space left on device [while running 'Write']")
    assert str(pipeline_error(from_a_worker, "o.jsonl")).startswith("cannot write o.jsonl: No space left on device")
    elsewhere = RuntimeError("PermissionError: [Errno 13] Permission denied: 'x' [while running 'Find faces']")
    assert str(pipeline_error(elsewhere, "o.jsonl")) == "the Beam pipeline failed: Permission denied: 'x'"
    bug = RuntimeError("ZeroDivisionError: division by zero")
    assert pipeline_error(bug, "o.jsonl") is bug
