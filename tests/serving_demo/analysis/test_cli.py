"""fer-analyze's command line: a video made from a real photograph, folders with bad files, CSV, exit statuses."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND
from model_zoo.constants import CLASS_NAMES
from serving_demo.analysis.cli import build_parser, main, settings_from
from serving_demo.analysis.settings import AnalysisOptions, RunSettings
from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS
from tests.images import astronaut, write_bad_inputs
from tests.serving_demo.analysis.helpers import SEGMENT, read_records


def test_a_video_gives_a_record_per_frame_following_its_segments(video, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    # seed_cnn_fer2013_v1 reads the blurred mouth as surprise (the default model sees a smile still): two segments that
    # differ, a third without a face.
    args = [str(video), "--output", str(out), "--annotate", str(tmp_path / "ann"), "--artifacts", "seed_cnn_fer2013_v1"]
    assert main([*args, "--no-progress"]) == 0
    records = read_records(out)
    assert [r["frame"] for r in records] == list(range(3 * SEGMENT))
    for r in records:
        assert set(r) == {"source", "frame", "time_s", "width", "height", "faces"}
        assert r["source"] == str(video) and (r["width"], r["height"]) == (640, 480)
        assert r["time_s"] == pytest.approx(r["frame"] / 30, abs=1e-3)
        for face in r["faces"]:
            assert set(face) == {"box", "emotion", "confidence", "probabilities", "track_id"} and face["track_id"] == 1
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
    (person,) = summary["videos"][str(video)]["tracks"]  # one line per person
    assert person["track_id"] == 1 and 54 <= person["frames"] <= 60 and person["emotion"] in ("Happy", "Surprise")
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
    assert [r["frame"] for r in read_records(out)] == frames


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
    assert {r["track_id"] for r in rows} == {""}
    assert list(rows[0])[:13] == [
        "source",
        "frame",
        "time_s",
        "width",
        "height",
        "face",
        "track_id",  # a tracked run's column (by default), empty for photos
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


def test_options_of_beam_are_refused_by_the_local_runner(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path), "--output", str(tmp_path / "x.jsonl"), "--flink_master", "host:8081"])
    assert exit_info.value.code == 2


def test_the_model_options_are_the_shared_ones_with_fer_analyzes_defaults():
    options = {a.dest: a for a in build_parser()._actions}
    assert options["backend"].choices == list(BACKENDS) and options["backend"].default == DEFAULT_BACKEND
    assert options["detector"].choices == list(DETECTORS) and options["detector"].default == DEFAULT_DETECTOR
    assert options["artifacts"].default is None and options["artifacts"].metavar == "DIR|NAME"


def test_the_arguments_become_the_runs_settings():
    args = build_parser().parse_args(
        ["a.jpg", "clips/", "-o", "out.csv", "--fps", "2", "--annotate", "ann", "--workers", "3", "--threads", "1",
         "--batch-frames", "8", "--overwrite", "--no-progress", "--backend", "keras", "--detector", "haar",
         "--max-video-seconds", "60", "--max-frame-pixels", "0", "--follow-links", "--tracking", "off"]
    )  # fmt: skip
    analysis = AnalysisOptions(
        fps=2.0, batch_frames=8, annotate_dir="ann", max_video_seconds=60, max_frame_pixels=None, tracking=False
    )
    assert settings_from(args) == RunSettings(
        paths=("a.jpg", "clips/"), output="out.csv", artifacts=None, backend="keras", detector="haar", threads=1,
        analysis=analysis, workers=3, overwrite=True, progress=False, follow_links=True,
    )  # fmt: skip
    defaults = settings_from(build_parser().parse_args(["a.jpg", "-o", "out.jsonl"]))
    assert defaults == RunSettings(paths=("a.jpg",), output="out.jsonl") and defaults.analysis.tracking


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--output", "out.txt"], "fer-analyze: error: --output must end in .jsonl or .csv, not 'out.txt'"),
        (["--output", "o.jsonl", "--every", "0"], "fer-analyze: error: --every must be at least 1, not 0"),
        (["--output", "o.jsonl", "--workers", "0"], "fer-analyze: error: --workers and --batch-frames must be at"),
        (["--output", "o.jsonl", "--artifacts", "nowhere"], "fer-analyze: error: No fer-export output at nowhere"),
        (["--output", "o.jsonl", "--runner", "beam", "--workers", "2"], "--annotate and --workers belong to the local"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert main(["photo.jpg", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1, err
