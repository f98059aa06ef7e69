"""``fer-bench``'s ``fer`` package row: left out with one line when ``fer`` is missing, side by side when present.

A stand-in interpreter plays ``fer`` (the real package is never needed here); our recognizer is measured for real
on the shipped model.
"""

import importlib.util
import json
import sys

import pytest

from export.cli.bench import main

# Skip the per-backend measurements; one timed frame each, no warm-up beyond the row's own.
QUICK = ["--no-backends", "--e2e-iterations", "1", "--threads", "1"]


def test_a_missing_fer_python_leaves_the_row_out_with_one_line_and_status_0(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main([*QUICK, "--fer-python", "/no/such/python", "--json", str(out)]) == 0
    printed = capsys.readouterr()
    notes = [line for line in printed.out.splitlines() if "fer package" in line]
    assert notes == [line for line in notes if line.startswith("fer package row left out: --fer-python /no/such/")]
    assert len(notes) == 1 and "pip install fer" in notes[0] and "Traceback" not in printed.err
    assert json.loads(out.read_text())["fer_package"] is None


def test_without_fer_python_or_fer_here_the_row_is_left_out_with_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert main(QUICK) == 0
    assert f"fer package row left out: `fer` is not installed for {sys.executable}" in capsys.readouterr().out


def test_no_e2e_frames_means_no_fer_row(capsys):
    assert main(["--no-backends", "--e2e-iterations", "0", "--fer-python", "/no/such/python"]) == 0
    assert "fer package" not in capsys.readouterr().out


def test_the_row_measures_fer_and_the_recognizer_on_the_same_frame(tmp_path, capsys):
    # A stand-in `fer` interpreter: checks what it is given (the script, a 640x480 PNG, the counts, the pinned
    # threads in its environment), prints noise and then its JSON, as the real script does.
    fake = tmp_path / "fake-fer-python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "import cv2\n"
        "assert sys.argv[1] == '-c' and 'FER(mtcnn=False)' in sys.argv[2], sys.argv[:2]\n"
        "png, iterations, warmup, threads = sys.argv[3:7]\n"
        "assert cv2.imread(png).shape == (480, 640, 3) and (iterations, warmup) == ('1', '3')\n"
        "assert os.environ['TF_NUM_INTRAOP_THREADS'] == os.environ['TF_NUM_INTEROP_THREADS'] == threads\n"
        "assert 'PYTHONPATH' not in os.environ\n"
        "print('some library talks first')\n"
        "print(json.dumps({'ms': 200.0, 'faces': 1, 'version': '0.0-standin'}))\n"
    )
    fake.chmod(0o755)
    out = tmp_path / "bench.json"
    assert main([*QUICK, "--fer-python", str(fake), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    row = json.loads(out.read_text())["fer_package"]
    assert row["frame"] == "640x480" and row["fer_version"] == "0.0-standin" and row["fer_ms"] == 200.0
    assert row["faces"] == {"fer": 1, "ours": 1}  # the recognizer finds the one face too
    assert row["threads"] == 1 and row["iterations"] == 1 and row["fer_python"] == str(fake)
    assert row["ours_ms"] > 0 and row["speedup"] == pytest.approx(200.0 / row["ours_ms"], rel=0.01)
    assert row["ours_backend"] == "tflite-int8" and row["ours_detector"] == "blazeface"
    assert "fer 0.0-standin: FER(mtcnn=False).detect_emotions" in printed
    assert "as fast as fer's detect_emotions" in printed and "threads: both pinned to 1" in printed


def test_the_tracked_video_row_compares_tracking_off_and_on_on_one_clip(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--no-backends", "--e2e-iterations", "0", "--tracked-video", "24", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["tracked_video"]
    assert row["frames"] == 24 and row["repeats"] == 3 and len(row["runs_on"]) == len(row["runs_off"]) == 3
    assert row["fps_on"] > 0 and row["fps_off"] > 0 and 0.9 <= row["agreement"] <= 1.0
    assert row["faces_on"] >= 20 and row["tracks"] == [1]  # one face, one track
    assert "tracking on:" in capsys.readouterr().out
    assert main(["--no-backends", "--e2e-iterations", "0", "--tracked-video", "-1"]) == 2


def test_against_measures_a_second_export_the_same_way_and_gives_the_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--against", "seed_cnn_fer2013", "--backends", "tflite-int8", "--threads", "1", "--iterations", "20"]
    args += ["--warmup", "2", "--batch-runs", "2", "--e2e-iterations", "2", "--json", str(out)]
    assert main([*args, "--fer-python", "/no/such/python"]) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    against = record["against"]
    assert against["artifacts"].endswith("seed_cnn_fer2013") and len(against["results"]) == 1
    [ratio] = against["ratios"]
    mine, theirs = record["results"][0], against["results"][0]
    assert ratio["backend"] == "tflite-int8" and ratio["threads"] == 1
    assert ratio["latency_ratio"] == pytest.approx(mine["latency_ms_p50"] / theirs["latency_ms_p50"], rel=1e-2)
    assert ratio["e2e_ratio"] == pytest.approx(mine["e2e_ms_p50"] / theirs["e2e_ms_p50"], rel=1e-2)
    assert f"against {against['artifacts']}, same run" in printed
    assert main(["--no-backends", "--against", "seed_cnn_fer2013"]) == 2
    assert "leave out --no-backends" in capsys.readouterr().err
