"""fer-analyze under faults, both runners, the real command in a subprocess: SIGKILL at random moments, a full disk,
a read-only output folder, inputs that vanish between listing and reading. Each ends in one line and a defined exit
status, never a traceback, and the same command run again writes every record exactly once."""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from serving_demo.analysis.cli import main
from tests.serving_demo.analysis.faults import (
    RecordCheck,
    assert_one_error_line,
    check_records,
    command,
    kill_after,
    run,
    start,
    under_faults,
    wait_for,
)
from tests.serving_demo.analysis.helpers import write_folder_of_work

RUNNERS = ["local", "beam"]
# Kills per runner. CI runs 3 (the Beam runner's 20 take about 7 minutes on 2 cores); the 20-trial count the issue
# asks for is measured with FER_KILL_TRIALS=20 pytest -m slow tests/serving_demo/analysis/test_faults.py.
KILL_TRIALS = int(os.environ.get("FER_KILL_TRIALS", "3"))
EVERY = ["--every", "15"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, video) -> list[str]:
    """The records of a complete local run over ``work_folder``'s files, every 15th video frame (the Beam
    runner's are the same: test_beam_pipeline)."""
    folder = write_folder_of_work(tmp_path_factory.mktemp("reference") / "work", video)
    out = folder.parent / "out.jsonl"
    assert main([str(folder), "--output", str(out), "--no-progress", *EVERY]) == 0
    return out.read_text().splitlines()


def leftovers(folder: Path) -> list[str]:
    """Files a run should not leave behind: staged files, Beam's temporary folders, atomic writes' temporaries."""
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or p.name.startswith("beam-temp-"))


def log_lines(out: Path) -> int:
    """Whole lines in ``out``'s progress log (0 if none)."""
    log = out.with_name(out.name + ".progress.jsonl")
    return log.read_text().count("\n") if log.exists() else 0


@pytest.mark.parametrize("runner", RUNNERS)
def test_an_output_folder_that_cannot_be_made_is_one_line_and_exit_status_2(runner, tmp_path, capsys, video):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "results" / "out.jsonl"
    assert main([str(video), "--output", str(out), "--no-progress", "--runner", runner]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"fer-analyze: error: cannot write {out}"), err
    assert "Not a directory" in err[0] and "run the same command again" in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("runner", RUNNERS)
def test_killed_at_random_moments_the_next_run_writes_every_record_once(runner, tmp_path, work_folder):
    """SIGKILL at a moment drawn by a seeded RNG between half the time a complete run takes to claim its output
    and its end (what comes before is imports), then the same command to its end; 24 photos, then a video, so that
    the local runner's writes are spread over the run."""
    for i in range(18):
        (work_folder / f"photo{6 + i:02d}.jpg").write_bytes((work_folder / f"photo{i % 6}.jpg").read_bytes())
    (work_folder / "clip.mp4").rename(work_folder / "zz_clip.mp4")  # last
    complete = tmp_path / "complete.jsonl"
    started = time.monotonic()
    process = start(command([work_folder], complete, runner, *EVERY), tmp_path / "complete.err")
    wait_for(lambda: Path(f"{complete}.progress.jsonl").exists(), process)
    claimed = time.monotonic() - started
    assert process.wait(timeout=300) == 0, (tmp_path / "complete.err").read_text()[-3000:]
    seconds = time.monotonic() - started
    reference = complete.read_text().splitlines()
    assert len(set(reference)) == len(reference) == 24 + 6
    rng = random.Random(1000 + RUNNERS.index(runner))
    totals, killed, states, left = RecordCheck(), 0, Counter(), []
    for trial in range(KILL_TRIALS):
        folder = tmp_path / f"trial{trial:02d}"
        folder.mkdir()
        out = folder / "out.jsonl"
        cmd = command([work_folder], out, runner, *EVERY)
        if kill_after(start(cmd, folder / "killed.err"), rng.uniform(claimed / 2, seconds)):
            killed += 1
            states[_state_after_kill(out, runner)] += 1
        rerun = run(cmd)
        assert rerun.returncode == 0 and "Traceback" not in rerun.stderr, (trial, rerun.stderr[-3000:])
        totals += check_records(out, reference)
        left += leftovers(folder)
    print(
        f"\n{runner}: {KILL_TRIALS} trials, kills {claimed / 2:.1f}-{seconds:.1f} s after the start, {killed} killed "
        f"({dict(sorted(states.items()))}); records lost {totals.lost}, duplicated {totals.duplicated}, "
        f"torn {totals.torn}, unexpected {totals.unexpected}; left behind: {left}"
    )
    assert totals.clean, totals
    assert runner == "local" or left == []  # the local runner's atomic writes may leave a hidden temporary
    assert killed >= KILL_TRIALS // 2  # most trials were killed before the end


def _state_after_kill(out: Path, runner: str) -> str:
    """Where a killed run had got to: for the local runner, files logged; for Beam, claimed, staged, published."""
    if runner == "local":
        return f"{max(0, log_lines(out) - 1)} files logged" if log_lines(out) else "not started"
    if out.exists():
        return "published"
    if Path(f"{out}.partial").exists() or any(out.parent.glob("beam-temp-*")):
        return "writing"
    return "claimed" if Path(f"{out}.progress.jsonl").exists() else "not started"


@pytest.mark.slow
def test_a_full_disk_stops_the_local_run_in_one_line_and_the_next_run_goes_on(tmp_path, work_folder, reference):
    """Writes past a file size limit fail as on a full disk: here in the middle of the fourth photo's records."""
    (work_folder / "clip.mp4").unlink()  # photos only: their records are the only writes that grow
    complete = run(command(["work"], "ref.jsonl", "local"), cwd=tmp_path)  # relative paths: a short log
    assert complete.returncode == 0, complete.stderr[-3000:]
    log = [json.loads(line) for line in (tmp_path / "ref.jsonl.progress.jsonl").read_text().splitlines()]
    limit = log[3]["bytes"] + 100  # three photos' records fit, the fourth's do not
    assert limit < log[4]["bytes"] and len("\n".join(map(json.dumps, log[:4]))) < limit
    cmd = command(["work"], "out.jsonl", "local")
    failed = run(under_faults(cmd, file_size=limit), cwd=tmp_path)
    assert_one_error_line(failed, "cannot write out.jsonl: File too large; what was written is kept")
    photos = [line for line in reference if '"frame":null' in line]
    assert check_records(tmp_path / "out.jsonl", photos) == RecordCheck(lost=3)  # the fourth's part was cut off
    resumed = run(cmd, cwd=tmp_path)
    assert resumed.returncode == 0 and "resuming out.jsonl: 3 of 6 files already done" in resumed.stderr
    assert check_records(tmp_path / "out.jsonl", photos).clean


@pytest.mark.slow
def test_a_full_disk_stops_a_beam_run_in_one_line_and_leaves_the_output_as_it_was(tmp_path, work_folder, reference):
    out = tmp_path / "out.jsonl"
    cmd = command([work_folder], out, "beam", *EVERY)
    failed = run(under_faults(cmd, file_size=1500))
    assert_one_error_line(failed, f"cannot write {out}: File too large; the output is left as it was")
    assert not out.exists() and leftovers(tmp_path) == []
    done = run(cmd)
    assert done.returncode == 0, done.stderr[-3000:]
    assert check_records(out, reference).clean
    before = out.read_bytes()
    failed = run(under_faults(cmd, file_size=1500))  # the same command again, with the disk full again
    assert_one_error_line(failed, "File too large; the output is left as it was")
    assert out.read_bytes() == before and leftovers(tmp_path) == []


@pytest.fixture
def read_only_folder(tmp_path) -> Path:
    """An empty folder nobody may write, root included (the command drops CAP_DAC_OVERRIDE: ``under_faults``)."""
    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o555)
    probe = run(under_faults([sys.executable, "-c", f"open({str(folder / 'x')!r}, 'w')"], obey_permissions=True))
    if probe.returncode == 0:
        folder.chmod(0o755)
        pytest.skip("file permissions cannot be made to bind here")
    yield folder
    folder.chmod(0o755)


@pytest.mark.slow
@pytest.mark.parametrize("runner", RUNNERS)
def test_a_read_only_output_folder_is_one_line_and_the_next_run_writes_everything(
    runner, read_only_folder, work_folder, reference
):
    out = read_only_folder / "out.jsonl"
    cmd = command([work_folder], out, runner, *EVERY)
    failed = run(under_faults(cmd, obey_permissions=True))
    assert_one_error_line(failed, f"cannot write {out}", "Permission denied")
    assert list(read_only_folder.iterdir()) == []
    read_only_folder.chmod(0o755)
    done = run(cmd)
    assert done.returncode == 0, done.stderr[-3000:]
    assert check_records(out, reference).clean


@pytest.mark.slow
def test_photos_removed_after_the_local_run_listed_them_are_skipped_then_read_by_the_next_run(
    tmp_path, work_folder, video
):
    """Two videos first (every frame: seconds each); the photos are removed once the first video is logged."""
    for name in ["a0.mp4", "a1.mp4"]:
        (work_folder / name).write_bytes(video.read_bytes())
    photos = {p: p.read_bytes() for p in sorted(work_folder.glob("photo*.jpg"))}
    out = tmp_path / "out.jsonl"
    cmd = command([work_folder], out, "local")
    process = start(cmd, tmp_path / "first.err")
    wait_for(lambda: log_lines(out) >= 2, process)  # the settings, then a0.mp4
    for photo in photos:
        photo.unlink()
    assert process.wait(timeout=300) == 0  # the videos were read
    err = (tmp_path / "first.err").read_text()
    assert "Traceback" not in err
    for photo in photos:
        assert f"fer-analyze: skipped {photo.name}: No file at {photo}" in err, err[-3000:]
    for photo, data in photos.items():
        photo.write_bytes(data)
    again = run(cmd)
    assert again.returncode == 0 and f"resuming {out}: 3 of 9 files already done" in again.stderr, again.stderr
    keys = [(r["source"], r["frame"]) for r in map(json.loads, out.read_text().splitlines())]
    expected = {(v, f) for v in ["a0.mp4", "a1.mp4", "clip.mp4"] for f in range(90)} | {(p.name, None) for p in photos}
    assert len(keys) == len(set(keys)) and set(keys) == expected


@pytest.mark.slow
def test_photos_removed_after_a_beam_run_listed_them_are_skipped_then_read_by_the_next_run(
    tmp_path, work_folder, reference
):
    """Beam claims its output once the files are listed: the photos are removed then, before any is read."""
    photos = {p: p.read_bytes() for p in sorted(work_folder.glob("photo*.jpg"))}
    out = tmp_path / "out.jsonl"
    cmd = command([work_folder], out, "beam", *EVERY)
    process = start(cmd, tmp_path / "first.err")
    wait_for(lambda: Path(f"{out}.progress.jsonl").exists(), process)
    for photo in photos:
        photo.unlink()
    assert process.wait(timeout=300) == 0  # the video was read
    assert "Traceback" not in (tmp_path / "first.err").read_text()
    skipped = [json.loads(line) for line in Path(f"{out}.skipped.jsonl").read_text().splitlines()]
    assert sorted(s["source"] for s in skipped) == [p.name for p in photos]
    assert all(s["error"].startswith("No file at") for s in skipped)
    assert check_records(out, reference) == RecordCheck(lost=len(photos))
    for photo, data in photos.items():
        photo.write_bytes(data)
    again = run(cmd)
    assert again.returncode == 0, again.stderr[-3000:]
    assert check_records(out, reference).clean and Path(f"{out}.skipped.jsonl").read_text() == ""
