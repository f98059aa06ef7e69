import json

import pytest

from export.benchmarks.backends import RESULT_FIELDS, load_bench_inputs
from export.cli.bench import main
from fer_runtime.predictors import load_backend
from model_zoo.artifacts import BACKENDS, artifact
from pipeline.evaluate import evaluate_arrays

# One TensorFlow backend and two TFLite ones (a TFLite process starts in a second, a TensorFlow one
# in about five).
SOME_BACKENDS = ["saved_model", "tflite-fp32", "tflite-int8"]


@pytest.mark.parametrize(
    "backends",
    [
        pytest.param(SOME_BACKENDS, id="savedmodel-and-tflite"),
        # Seven measuring processes, four of them loading TensorFlow: 25 s on 2 cores.
        pytest.param(None, id="every-backend-by-default", marks=pytest.mark.slow),
    ],
)
def test_bench_measures_backends_and_writes_json_and_plot(exported, fer_csv, data_dir, tmp_path, capsys, backends):
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    args = ["--artifacts", str(exported.out_dir), "--data", str(fer_csv), "--data-dir", str(data_dir)]
    args += ["--threads", "1", "--iterations", "5", "--warmup", "1", "--batch-runs", "2", "--e2e-iterations", "2"]
    args += ["--json", str(out), "--plot", str(png)]
    assert main(args + (["--backends", *backends] if backends else [])) == 0
    measured = backends or list(BACKENDS)
    record = json.loads(out.read_text())
    assert record["faces"] == 42 and record["split"] == "validation"
    results = record["results"]
    assert [r["backend"] for r in results] == measured
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
    for backend in measured:
        want = evaluate_arrays(load_backend(exported.out_dir, backend), faces, labels)["accuracy"]
        assert by_name[backend]["accuracy"] == pytest.approx(want, abs=1e-9), backend
    # The tiny model learnt the generated faces (chance is 1/7), and float backends give the same answers.
    floats = {b: by_name[b]["accuracy"] for b in measured if artifact(b).parity in ("reference", "float")}
    assert len(floats) >= 2 and len(set(floats.values())) == 1, floats
    assert min(floats.values()) > 0.8
    # A TFLite process never loads TensorFlow, so it needs far less memory.
    assert by_name["tflite-int8"]["peak_rss_megabytes"] < by_name["saved_model"]["peak_rss_megabytes"] / 2
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "SavedModel p50 / TFLite p50 at 1 thread(s)" in printed


def test_bench_reports_missing_artifacts(tmp_path, capsys):
    assert main(["--artifacts", str(tmp_path), "--iterations", "1"]) == 2
    assert "run fer-export first" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["onnx", "tflite_float32"])  # tflite_float32: a name from before the table
def test_bench_refuses_unknown_backend_names_with_the_list(capsys, name):
    from export.cli.bench import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--backends", "keras", name])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"Unknown backend {name!r}" in err and ", ".join(BACKENDS) in err


def test_bench_scores_an_8_class_export_on_the_fer_plus_labels_its_metadata_names(
    eight_class, ferplus_csv, data_dir, tmp_path, capsys
):
    from model_zoo.constants import FERPLUS_CLASS_NAMES

    out = tmp_path / "bench.json"
    args = ["--artifacts", str(eight_class.export.out_dir), "--data", str(ferplus_csv), "--data-dir", str(data_dir),
            "--backends", "tflite-int8", "--threads", "1", "--iterations", "3", "--warmup", "1", "--batch-runs", "1",
            "--e2e-iterations", "0"]  # fmt: skip
    assert main([*args, "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["labels"] == "ferplus-majority"  # from the export's metadata.json
    faces, labels = load_bench_inputs(str(ferplus_csv), "validation", 100_000, str(data_dir), labels="ferplus-majority")
    assert record["faces"] == len(labels) < 42 and labels.max() == 7  # FER+'s faces, contempt among them
    predictor = load_backend(eight_class.export.out_dir, "tflite-int8")
    want = evaluate_arrays(predictor, faces, labels, class_names=FERPLUS_CLASS_NAMES)["accuracy"]
    assert record["results"][0]["accuracy"] == pytest.approx(want, abs=1e-9)
    # Labels with other classes than the export's cannot be scored by index: refused, with the way out.
    assert main([*args, "--labels", "fer2013"]) == 2
    assert "Labels 'fer2013' have the classes" in capsys.readouterr().err
