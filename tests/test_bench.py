import json

import pytest

from export.bench import RESULT_FIELDS, load_bench_inputs
from export.cli.bench import main
from fer_runtime.predictors import load_backend
from model_zoo.artifacts import BACKENDS, artifact
from pipeline.evaluate import evaluate_arrays


def test_bench_measures_every_backend_and_writes_json_and_plot(exported, fer_csv, data_dir, tmp_path, capsys):
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    code = main(
        [
            "--artifacts",
            str(exported.out_dir),
            "--data",
            str(fer_csv),
            "--data-dir",
            str(data_dir),
            "--threads",
            "1",
            "--iterations",
            "5",
            "--warmup",
            "1",
            "--batch-runs",
            "2",
            "--e2e-iterations",
            "2",
            "--json",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    record = json.loads(out.read_text())
    assert record["faces"] == 42 and record["split"] == "validation"
    results = record["results"]
    assert [r["backend"] for r in results] == list(BACKENDS)
    for r in results:
        assert set(r) == set(RESULT_FIELDS)
        assert r["threads"] == 1 and r["latency_calls"] == 5
        assert 0 < r["latency_ms_p50"] <= r["latency_ms_p90"] <= r["latency_ms_p99"]
        assert r["batch64_images_per_sec"] > 0 and r["file_megabytes"] > 0 and r["peak_rss_megabytes"] > 0
        # Every backend, keras-eager included, runs the whole pipeline too, and the fast detector
        # finds the same single face as the naive one.
        assert r["e2e_faces"] == r["e2e_naive_faces"] == 1, r["backend"]
        assert r["e2e_ms_p50"] > 0 and r["e2e_speedup"] == pytest.approx(
            r["e2e_naive_ms_p50"] / r["e2e_ms_p50"], rel=0.01
        )
    by_name = {r["backend"]: r for r in results}
    # The accuracy each worker reports is what fer-eval's metrics give that backend on the same faces.
    faces, labels = load_bench_inputs(str(fer_csv), "validation", 100_000, str(data_dir))
    for backend in BACKENDS:
        want = evaluate_arrays(load_backend(exported.out_dir, backend), faces, labels)["accuracy"]
        assert by_name[backend]["accuracy"] == pytest.approx(want, abs=1e-9), backend
    # The tiny model learnt the generated faces, and float backends give the same answers.
    floats = {b: by_name[b]["accuracy"] for b in BACKENDS if artifact(b).parity in ("reference", "float")}
    assert len(set(floats.values())) == 1, floats
    assert by_name["keras"]["accuracy"] > 0.8  # chance is 1/7
    # A TFLite process never loads TensorFlow, so it needs far less memory.
    assert by_name["tflite-int8"]["peak_rss_megabytes"] < by_name["saved_model"]["peak_rss_megabytes"] / 2
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "SavedModel p50 / TFLite p50 at 1 thread(s)" in printed


def test_bench_reports_missing_artifacts(tmp_path, capsys):
    assert main(["--artifacts", str(tmp_path), "--iterations", "1"]) == 2
    assert "run fer-export first" in capsys.readouterr().err


def test_bench_accepts_older_backend_names_and_refuses_unknown_ones(capsys):
    from export.cli.bench import build_parser

    args = build_parser().parse_args(["--backends", "keras_call", "keras_predict_on_batch", "tflite_float32"])
    assert args.backends == ["keras-eager", "keras", "tflite-fp32"]
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--backends", "onnx"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Unknown backend 'onnx'" in err and ", ".join(BACKENDS) in err
