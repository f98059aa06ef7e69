"""The progress log: a run killed at any point, or stopped by a full disk, and started again writes every record
once; its claim on the output; its summary."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serving_demo.analysis.cli import main
from serving_demo.analysis.run_log import RunLog, SessionTotals
from tests.serving_demo.analysis.faults import run, under_faults
from tests.serving_demo.analysis.helpers import read_records, sorted_lines

ROOT = Path(__file__).resolve().parents[3]
SETTINGS = {"paths": ["photos"], "output": "out.jsonl"}


def test_a_run_torn_between_writing_records_and_logging_them_resumes_without_duplicates(tmp_path, work_folder):
    out = tmp_path / "out.jsonl"
    command = [str(work_folder), "--output", str(out), "--no-progress", "--every", "15"]
    assert main(command) == 0
    complete = read_records(out)
    log = out.with_name(out.name + ".progress.jsonl")
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n")  # the last two files' records written, never logged: a kill
    with out.open("a") as f:
        f.write('{"source": "half a line')  # and a torn line
    assert main(command) == 0
    assert sorted_lines(read_records(out)) == sorted_lines(complete)
    other = [str(work_folder), "--output", str(out), "--no-progress", "--every", "10"]
    assert main(other) == 2  # other settings: refused


@pytest.mark.slow
def test_a_killed_run_started_again_finishes_with_every_record_once(tmp_path, work_folder, video):
    for i in range(3):
        (work_folder / f"clip{i}.mp4").write_bytes(video.read_bytes())
    out = tmp_path / "out.jsonl"
    command = [
        sys.executable, "-m", "serving_demo.analysis.cli", str(work_folder), "--output", str(out), "--no-progress"
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    log = out.with_name(out.name + ".progress.jsonl")
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 4:  # settings + 3 files done
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()
    proc.wait()
    done_before = len(log.read_text().splitlines()) - 1
    assert 0 < done_before < 10
    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{done_before} of 10 files already done" in resumed.stderr
    keys = [(r["source"], r["frame"]) for r in read_records(out)]
    assert len(keys) == len(set(keys)) == 6 + 4 * 90


def _entry(source: str, records: int = 1, faces: int = 1, error: str | None = None, **more) -> dict:
    return {"source": source, "kind": "image", "records": records, "faces": faces, "error": error, **more}


def test_a_new_log_starts_with_the_settings_and_the_header(tmp_path):
    log = RunLog(tmp_path / "sub" / "out.csv")
    assert log.path == tmp_path / "sub" / "out.csv.progress.jsonl"
    assert log.summary_path == tmp_path / "sub" / "out.csv.summary.json"
    assert log.start(SETTINGS, "a,b\n", overwrite=False) == {}
    assert log.output.read_text() == "a,b\n"
    assert json.loads(log.path.read_text()) == {"settings": SETTINGS, "bytes": 4}
    log.finish("1,2\n", _entry("x.jpg"))
    assert log.entries() == [_entry("x.jpg", bytes=8)]


def test_a_resumed_log_cuts_the_output_back_to_its_last_finished_file(tmp_path):
    log = RunLog(tmp_path / "out.jsonl")
    log.start(SETTINGS, "", overwrite=False)
    log.finish('{"a": 1}\n', _entry("a.jpg"))
    with log.output.open("a") as f:
        f.write('{"b": ')  # written, never logged
    done = RunLog(tmp_path / "out.jsonl").start(SETTINGS, "", overwrite=False)
    assert done == {"a.jpg": _entry("a.jpg", bytes=9)}
    assert log.output.read_text() == '{"a": 1}\n'


def test_an_output_of_another_run_is_refused_unless_overwritten(tmp_path):
    log = RunLog(tmp_path / "out.jsonl")
    log.start(SETTINGS, "", overwrite=False)
    log.finish("{}\n", _entry("a.jpg"))
    with pytest.raises(ValueError, match="was written by another fer-analyze command \\(paths: \\[.photos.\\] there"):
        log.start({**SETTINGS, "paths": ["other"]}, "", overwrite=False)
    assert log.start({**SETTINGS, "paths": ["other"]}, "", overwrite=True) == {}
    assert log.output.read_text() == "" and len(log.path.read_text().splitlines()) == 1
    stranger = tmp_path / "stranger.jsonl"
    stranger.write_text("{}\n")
    with pytest.raises(ValueError, match="exists and is not the output of a fer-analyze run: use --overwrite"):
        RunLog(stranger).start(SETTINGS, "", overwrite=False)


def test_the_summary_counts_every_session_and_the_missing_arguments(tmp_path):
    log = RunLog(tmp_path / "out.jsonl")
    log.start(SETTINGS, "", overwrite=False)
    video_summary = {"frames_analysed": 3}
    log.finish("", _entry("a.jpg", faces=2))
    log.finish("", _entry("bad.jpg", records=0, faces=0, error="empty file"))
    log.finish("", _entry("clip.mp4", records=3, faces=1, summary=video_summary))
    session = SessionTotals(seconds=2.0, files=1, frames=3, faces=1)
    summary = log.summarize([("gone/", "no such file or folder")], session)
    assert (summary.files_analysed, summary.files_skipped, summary.frames, summary.faces) == (2, 2, 4, 3)
    assert summary.skipped == [
        {"source": "bad.jpg", "reason": "empty file"},
        {"source": "gone/", "reason": "no such file or folder"},
    ]
    assert summary.videos == {"clip.mp4": video_summary}
    assert log.write_summary(summary) == log.summary_path
    written = json.loads(log.summary_path.read_text())
    assert list(written) == ["output", "files_analysed", "files_skipped", "frames", "faces", "session", "skipped",
                             "videos"]  # fmt: skip
    assert written["output"] == str(log.output)
    assert written["session"] == {"seconds": 2.0, "files": 1, "frames": 3, "faces": 1, "frames_per_sec": 1.5}


def test_a_log_line_cut_short_is_left_out_and_cut_off_when_the_run_goes_on(tmp_path):
    log = RunLog(tmp_path / "out.jsonl")
    log.start(SETTINGS, "", overwrite=False)
    log.finish('{"a": 1}\n', _entry("a.jpg"))
    with log.output.open("a") as f:
        f.write('{"b": 2}\n')  # written, then the log's line cut short
    with log.path.open("a") as f:
        f.write('{"source": "b.jpg", "ki')
    assert [e["source"] for e in log.entries()] == ["a.jpg"]
    assert RunLog(log.output).start(SETTINGS, "", overwrite=False) == {"a.jpg": _entry("a.jpg", bytes=9)}
    assert log.output.read_text() == '{"a": 1}\n' and log.path.read_text().endswith("}\n")
    log.finish('{"b": 2}\n', _entry("b.jpg"))
    assert [e["source"] for e in log.entries()] == ["a.jpg", "b.jpg"]


def test_a_run_killed_between_its_claim_and_its_output_goes_on(tmp_path):
    log = RunLog(tmp_path / "out.csv")
    log.start(SETTINGS, "a,b\n", overwrite=False)
    log.output.unlink()  # the claim is written first
    assert RunLog(log.output).start(SETTINGS, "a,b\n", overwrite=False) == {}
    assert log.output.read_text() == "a,b\n"


def test_an_output_cut_shorter_than_its_log_says_or_a_damaged_log_is_refused_unless_overwritten(tmp_path):
    log = RunLog(tmp_path / "out.jsonl")
    log.start(SETTINGS, "", overwrite=False)
    log.finish('{"a": 1}\n', _entry("a.jpg"))
    log.output.write_text("")
    with pytest.raises(ValueError, match="is missing or shorter than its log out.jsonl.progress.jsonl says"):
        log.start(SETTINGS, "", overwrite=False)
    log.path.write_text('{"settings": 1\n{"source": "a.jpg"}\n')
    with pytest.raises(ValueError, match="out.jsonl.progress.jsonl is damaged"):
        log.start(SETTINGS, "", overwrite=False)
    assert log.start(SETTINGS, "", overwrite=True) == {}


def test_a_file_that_could_not_be_read_is_tried_again_and_counted_once(tmp_path):
    log = RunLog(tmp_path / "out.jsonl")
    log.start(SETTINGS, "", overwrite=False)
    log.finish("", _entry("gone.jpg", records=0, faces=0, error="No file at gone.jpg."))
    assert RunLog(log.output).start(SETTINGS, "", overwrite=False) == {}
    log.finish("{}\n", _entry("gone.jpg"))
    summary = log.summarize([], SessionTotals())
    assert (summary.files_analysed, summary.files_skipped, summary.frames, summary.skipped) == (1, 0, 1, [])


def test_a_write_past_a_full_disk_is_cut_off_again(tmp_path):
    """In a process whose files may not grow past 1000 bytes (``RLIMIT_FSIZE``: writes fail as on a full disk)."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"x" * 600)
    script = (
        "import sys; from pathlib import Path; from serving_demo.analysis.run_log import append_durably\n"
        f"try: append_durably(Path({str(path)!r}), b'y' * 3000)\n"
        "except OSError as e: sys.exit(e.strerror)\n"
    )
    result = run(under_faults([sys.executable, "-c", script], file_size=1000))
    assert result.stderr.strip() == "File too large" and result.returncode == 1
    assert path.read_bytes() == b"x" * 600
