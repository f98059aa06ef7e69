import json

import pytest

from export.bench import BACKENDS, RESULT_FIELDS, main


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
        assert 0.0 <= r["accuracy"] <= 1.0
        if r["backend"] == "keras_call":  # the recognizer never runs Keras eagerly
            assert r["e2e_ms_p50"] is None
        else:  # the fast pipeline finds the same single face as the naive one
            assert r["e2e_faces"] == r["e2e_naive_faces"] == 1
            assert r["e2e_ms_p50"] > 0 and r["e2e_speedup"] == pytest.approx(
                r["e2e_naive_ms_p50"] / r["e2e_ms_p50"], rel=0.01
            )
    by_name = {r["backend"]: r for r in results}
    # Float backends see the same faces and give the same answers.
    assert by_name["tflite_float32"]["accuracy"] == by_name["saved_model"]["accuracy"]
    # A TFLite process never loads TensorFlow, so it needs far less memory.
    assert by_name["tflite_int8"]["peak_rss_megabytes"] < by_name["saved_model"]["peak_rss_megabytes"] / 2
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "SavedModel p50 / TFLite p50 at 1 thread(s)" in printed


def test_bench_reports_missing_artifacts(tmp_path, capsys):
    assert main(["--artifacts", str(tmp_path), "--iterations", "1"]) == 2
    assert "run fer-export first" in capsys.readouterr().err
