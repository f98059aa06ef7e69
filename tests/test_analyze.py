"""fer-analyze and its Python API on a video made from a real photograph, folders with bad files, kills and resumes."""

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES
from serving_demo.analysis import analyze
from serving_demo.analysis.cli import main
from tests.images import astronaut, write_bad_inputs

ROOT = Path(__file__).resolve().parents[1]
SEGMENT = 30  # frames per segment; the video runs at 30 fps


def _frame(kind: str, i: int) -> np.ndarray:
    """A 640x480 BGR frame: the astronaut smiling, the same photo with her mouth blurred (the shipped model reads
    surprise), or a scene with no face; a frame counter in a corner makes every frame different."""
    face = astronaut().copy()
    if kind == "blurred":
        face[135:180, 190:260] = cv2.GaussianBlur(face[135:180, 190:260], (31, 31), 0)
    frame = np.full((480, 640, 3), 70, np.uint8)
    if kind != "empty":
        frame[:, 64:576] = cv2.resize(face, (512, 480), interpolation=cv2.INTER_AREA)
    cv2.putText(frame, str(i), (8, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """90 frames at 30 fps: smiling (0-29), mouth blurred (30-59), no face (60-89)."""
    path = tmp_path_factory.mktemp("video") / "segments.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for i in range(3 * SEGMENT):
        writer.write(_frame(("smiling", "blurred", "empty")[i // SEGMENT], i))
    writer.release()
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_video_gives_a_record_per_frame_following_its_segments(video, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert main([str(video), "--output", str(out), "--annotate", str(tmp_path / "ann"), "--no-progress"]) == 0
    records = _records(out)
    assert [r["frame"] for r in records] == list(range(3 * SEGMENT))
    for r in records:
        assert set(r) == {"source", "frame", "time_s", "width", "height", "faces"}
        assert r["source"] == str(video) and (r["width"], r["height"]) == (640, 480)
        assert r["time_s"] == pytest.approx(r["frame"] / 30, abs=1e-3)
        for face in r["faces"]:
            assert set(face) == {"box", "emotion", "confidence", "probabilities"}
            assert list(face["probabilities"]) == list(CLASS_NAMES)
            assert sum(face["probabilities"].values()) == pytest.approx(1, abs=0.01)
            x, y, w, h = face["box"]
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
    emotions = [r["faces"][0]["emotion"] if r["faces"] else None for r in records]
    for segment, expected in enumerate(("Happy", "Surprise", None)):
        part = emotions[segment * SEGMENT : (segment + 1) * SEGMENT]
        assert part.count(expected) >= 0.8 * SEGMENT, (expected, part)
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    shares = summary["videos"][str(video)]["share"]
    assert shares["Happy"] == pytest.approx(1 / 3, abs=0.07) and shares["no face"] == pytest.approx(1 / 3, abs=0.07)
    assert summary["files_analysed"] == 1 and summary["frames"] == 90
    annotated = cv2.VideoCapture(str(tmp_path / "ann" / Path(str(video).lstrip("/")).with_suffix(".annotated.mp4")))
    frames = 0
    while annotated.read()[0]:
        frames += 1
    assert frames == 3 * SEGMENT
    timeline = next((tmp_path / "out.jsonl.timelines").rglob("*.png"))
    assert cv2.imread(str(timeline)) is not None
    assert "1 files analysed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flag,frames", [(["--every", "10"], list(range(0, 90, 10))), (["--fps", "5"], list(range(0, 90, 6)))]
)
def test_video_sampling(video, tmp_path, flag, frames):
    out = tmp_path / "out.jsonl"
    assert main([str(video), "--output", str(out), "--no-progress", *flag]) == 0
    assert [r["frame"] for r in _records(out)] == frames


def test_a_folder_with_bad_files_is_analysed_and_the_bad_ones_are_reported(tmp_path, capsys):
    folder = tmp_path / "photos"
    bad = write_bad_inputs(folder / "bad")
    cv2.imwrite(str(folder / "good.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out.csv"
    assert main([str(folder), "--output", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    summary = json.loads((tmp_path / "out.csv.summary.json").read_text())
    skipped = {s["source"]: s["reason"] for s in summary["skipped"]}
    assert "bad/empty.jpg" in skipped and "empty" in skipped["bad/empty.jpg"]
    assert "notes.txt" in skipped and "bad/truncated.jpg" in skipped and "bad/not_an_image.png" in skipped
    assert "skipped notes.txt" in err
    rows = list(csv.DictReader(out.open()))
    assert {r["source"] for r in rows} >= {"good.png", "bad/gray.png", "bad/exif_rotated.jpg"}
    assert list(rows[0])[:12] == [
        "source",
        "frame",
        "time_s",
        "width",
        "height",
        "face",
        "x",
        "y",
        "w",
        "h",
        "emotion",
        "confidence",
    ]
    assert summary["files_analysed"] == len(bad) + 1 - len(skipped) + 1  # notes.txt is not in write_bad_inputs
    assert main([str(folder), "--output", str(tmp_path / "strict.jsonl"), "--no-progress", "--strict"]) == 1
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"")
    assert main([str(only_bad), "--output", str(tmp_path / "none.jsonl"), "--no-progress"]) == 1


def test_csv_has_a_row_per_face(tmp_path):
    two = np.concatenate([astronaut(), astronaut()[:, ::-1]], axis=1)
    cv2.imwrite(str(tmp_path / "two.jpg"), cv2.cvtColor(two, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out.csv"
    assert main([str(tmp_path / "two.jpg"), "--output", str(out), "--no-progress"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["face"] for r in rows] == ["0", "1"] and all(r["frame"] == "" for r in rows)
    assert all(float(r[f"p_{r['emotion']}"]) == float(r["confidence"]) for r in rows)


def test_the_python_api_yields_records_one_at_a_time(video, tmp_path):
    records = analyze([str(video), str(tmp_path / "missing.jpg")], every=30)
    assert iter(records) is records  # a generator
    first = next(records)
    assert first == {"source": str(tmp_path / "missing.jpg"), "error": "no such file or folder"}
    rest = list(records)
    assert [r["frame"] for r in rest] == [0, 30, 60]


def _folder_of_work(tmp_path: Path, video: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"photo{i}.jpg"), cv2.cvtColor(np.roll(astronaut(), 7 * i, axis=1), cv2.COLOR_RGB2BGR))
    (folder / "clip.mp4").write_bytes(video.read_bytes())
    return folder


def test_a_run_torn_between_writing_records_and_logging_them_resumes_without_duplicates(tmp_path, video):
    folder = _folder_of_work(tmp_path, video)
    out = tmp_path / "out.jsonl"
    command = [str(folder), "--output", str(out), "--no-progress", "--every", "15"]
    assert main(command) == 0
    complete = _records(out)
    log = out.with_name(out.name + ".progress.jsonl")
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n")  # the last two files' records written, never logged: a kill
    with out.open("a") as f:
        f.write('{"source": "half a line')  # and a torn line
    assert main(command) == 0
    assert sorted(map(json.dumps, _records(out))) == sorted(map(json.dumps, complete))
    assert main([str(folder), "--output", str(out), "--no-progress", "--every", "10"]) == 2  # other settings: refused


@pytest.mark.slow
def test_a_killed_run_started_again_finishes_with_every_record_once(tmp_path, video):
    folder = _folder_of_work(tmp_path, video)
    for i in range(3):
        (folder / f"clip{i}.mp4").write_bytes(video.read_bytes())
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "serving_demo.analysis.cli", str(folder), "--output", str(out), "--no-progress"]
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
    keys = [(r["source"], r["frame"]) for r in _records(out)]
    assert len(keys) == len(set(keys)) == 6 + 4 * 90


def test_two_worker_processes_give_the_same_records(tmp_path, video):
    folder = _folder_of_work(tmp_path, video)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main([str(folder), "--output", str(one), "--no-progress", "--every", "30"]) == 0
    assert main([str(folder), "--output", str(two), "--no-progress", "--every", "30", "--workers", "2"]) == 0
    assert sorted(map(json.dumps, _records(one))) == sorted(map(json.dumps, _records(two)))


def test_one_video_split_across_two_processes_gives_the_same_records(video, tmp_path):
    from serving_demo.analysis.video import frame_ranges

    assert frame_ranges(90, 2, 1) == [(0, 45), (45, None)]
    assert frame_ranges(90, 2, 30) == [(0, None)]  # too few analysed frames to share
    assert frame_ranges(601, 3, 7) == [(0, 203), (203, 406), (406, None)]  # split at multiples of the step
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main([str(video), "--output", str(one), "--no-progress"]) == 0
    assert main([str(video), "--output", str(two), "--no-progress", "--workers", "2"]) == 0
    assert _records(one) == _records(two)  # frame-accurate seeking, records in frame order


def test_the_beam_pipeline_gives_the_local_runs_records(video, tmp_path, capsys):
    import apache_beam  # noqa: F401  the beam extra, which make test installs

    folder = _folder_of_work(tmp_path, video)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    local, beam = tmp_path / "local.jsonl", tmp_path / "beam.jsonl"
    assert main([str(folder), "--output", str(local), "--no-progress", "--every", "15"]) == 0
    assert (
        main([str(folder), "--output", str(beam), "--every", "15", "--runner", "beam", "--direct_num_workers", "1"])
        == 0
    )
    assert sorted(map(json.dumps, _records(beam))) == sorted(map(json.dumps, _records(local)))
    skipped = [json.loads(line) for line in (tmp_path / "beam.jsonl.skipped.jsonl").read_text().splitlines()]
    assert [s["source"] for s in skipped] == ["broken.jpg"] and "not an image" in skipped[0]["error"]
    csv_out = tmp_path / "beam.csv"
    assert main([str(folder), "--output", str(csv_out), "--every", "45", "--runner", "beam"]) == 0
    assert csv_out.read_text().splitlines()[0].startswith("source,frame,time_s")
    assert main([str(folder), "--output", str(beam), "--runner", "beam", "--annotate", str(tmp_path)]) == 2


def test_options_of_beam_are_refused_by_the_local_runner(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--output", str(tmp_path / "x.jsonl"), "--flink_master", "host:8081"])
    assert exit_info.value.code == 2
