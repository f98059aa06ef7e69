"""Every backend on one photo (serving_demo/backend_comparison.py), in Python and through the demo's API."""

import json
import os
import shutil

import numpy as np
import pytest

from model_zoo.artifacts import BACKENDS, artifact_path
from serving_demo import EXAMPLES_DIR
from serving_demo.backend_comparison import (
    NO_FACE_COMPARISON,
    TABLE_HEADERS,
    artifact_size,
    compare_backends,
    comparison_chart,
)
from serving_demo.image_io import ImageInputError
from serving_demo.recognizer import EmotionRecognizer
from tests.images import two_astronauts

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPEATS = 3
FLOAT_BACKENDS = ("keras", "keras-eager", "saved_model", "tflite-fp32")


@pytest.fixture(scope="module")
def recognizer(exported):
    return EmotionRecognizer(exported.out_dir)


@pytest.fixture(scope="module")
def comparison(recognizer):
    return compare_backends(recognizer, two_astronauts(), repeats=REPEATS)


def _bytes_on_disk(path):
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_every_backend_gets_latency_size_and_agreement_on_the_same_faces(comparison, exported):
    assert [r.backend for r in comparison.backends] == list(BACKENDS)  # the fixture's export has every backend
    assert comparison.faces == 2 and comparison.detector == "blazeface" and comparison.message == ""
    assert comparison.reference == "keras"
    reference = comparison.result("keras")
    for r in comparison.backends:
        assert r.error == "", r.backend
        assert len(r.latencies_ms) == REPEATS and all(t > 0 for t in r.latencies_ms), r.backend
        assert r.latency_ms == sorted(r.latencies_ms)[REPEATS // 2]
        assert r.size_bytes == _bytes_on_disk(artifact_path(exported.out_dir, r.backend)) > 0, r.backend
        assert len(r.emotions) == 2 and r.probabilities.shape == (2, 7)
        # Agreement is per face: the backend's top emotion against the reference's, face by face.
        assert r.agrees == [mine == theirs for mine, theirs in zip(r.emotions, reference.emotions)], r.backend
        assert r.is_reference == (r.backend == "keras")
    assert reference.agrees == [True, True] and reference.max_abs_diff == 0.0  # the float model agrees with itself
    for name in FLOAT_BACKENDS:  # as the parity gate holds them (max |delta probability| <= 1e-3)
        assert comparison.result(name).max_abs_diff <= 1e-3, name
    assert comparison.result("keras-eager").agrees == [True, True]


def test_table_and_json_forms(comparison):
    rows = comparison.rows()
    assert len(rows) == len(BACKENDS) and all(len(row) == len(TABLE_HEADERS) for row in rows)
    keras_row = rows[0]
    assert keras_row[0] == "keras" and keras_row[1] > 0 and keras_row[4] == "reference"
    assert all(row[4] == "reference" or row[4].startswith(("2/2 faces", "1/2 faces", "0/2 faces")) for row in rows)
    assert comparison.table() == {"headers": list(TABLE_HEADERS), "data": rows}
    record = json.loads(json.dumps(comparison.to_dict()))  # JSON-ready
    assert record["reference"] == "keras" and record["repeats"] == REPEATS and len(record["faces"]) == 2
    assert [f["reference_emotion"] for f in record["faces"]] == comparison.result("keras").emotions
    assert [b["backend"] for b in record["backends"]] == list(BACKENDS)
    assert all(b["latency_ms"] > 0 and b["agree_count"] is not None for b in record["backends"])
    summary = comparison.summary()
    assert "2 faces" in summary and "**keras**" in summary and f"median of {REPEATS}" in summary


def test_chart_is_a_headless_figure_with_one_bar_per_backend(comparison):
    figure = comparison_chart(comparison)
    latency_ax, size_ax = figure.axes
    assert len(latency_ax.patches) == len(size_ax.patches) == len(BACKENDS)
    assert [t.get_text() for t in latency_ax.get_yticklabels()] == list(BACKENDS)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())
    assert pixels.shape[2] == 4 and pixels.shape[1] == 1000 and pixels[..., :3].std() > 0


def test_a_disagreeing_face_is_counted_per_face(recognizer, monkeypatch):
    real = recognizer.classify_faces

    def second_face_differs(faces, backend=None):
        reference = real(faces, "keras")
        if backend != "tflite-fp16":
            return reference
        other = np.roll(reference[1], 1)  # the second face's top class moves one class on
        return np.stack([reference[0], other])

    monkeypatch.setattr(recognizer, "classify_faces", second_face_differs)
    comparison = compare_backends(recognizer, two_astronauts(), repeats=1, backends=["keras", "tflite-fp16"])
    fp16 = comparison.result("tflite-fp16")
    assert fp16.agrees == [True, False] and fp16.agree_count == 1
    assert comparison.rows()[1][4] == "1/2 faces (not face 2)"


def test_backends_that_cannot_run_are_reported_and_the_reference_falls_back(recognizer, monkeypatch):
    real = recognizer.classify_faces

    def without_tensorflow(faces, backend=None):
        if backend in ("keras", "keras-eager", "saved_model"):
            raise ModuleNotFoundError("No module named 'tensorflow'")
        return real(faces, backend)

    monkeypatch.setattr(recognizer, "classify_faces", without_tensorflow)
    comparison = compare_backends(recognizer, two_astronauts(), repeats=1)
    assert comparison.reference == "tflite-fp32"  # the first float backend that ran
    keras = comparison.result("keras")
    assert keras.error == "ModuleNotFoundError: No module named 'tensorflow'" and keras.latency_ms is None
    assert keras.agrees is None and keras.size_bytes > 0
    assert comparison.result("tflite-int8").latency_ms > 0
    assert "Could not run: keras, keras-eager, saved_model" in comparison.message
    assert comparison.rows()[0][4].startswith("could not run: ModuleNotFoundError")
    comparison_chart(comparison).canvas.draw()


def test_a_photo_without_a_face_gets_sizes_and_a_message(recognizer):
    comparison = compare_backends(recognizer, np.full((240, 320, 3), 128, np.uint8), repeats=2)
    assert comparison.faces == 0 and comparison.message == NO_FACE_COMPARISON and comparison.reference is None
    assert all(r.latency_ms is None and r.agrees is None and r.size_bytes > 0 for r in comparison.backends)
    assert "No face found" in comparison.summary()
    assert comparison.to_dict()["faces"] == []
    comparison_chart(comparison).canvas.draw()


def test_bad_arguments_are_refused(recognizer):
    with pytest.raises(ValueError, match="repeats must be between 1 and 50"):
        compare_backends(recognizer, two_astronauts(), repeats=0)
    with pytest.raises(ValueError, match="Unknown backend"):
        compare_backends(recognizer, two_astronauts(), backends=["onnx"])
    with pytest.raises(ImageInputError):
        compare_backends(recognizer, b"not an image")


def test_the_size_of_a_pushed_versions_saved_model_is_its_own_files_only(exported, tmp_path):
    version = tmp_path / "1"
    shutil.copytree(artifact_path(exported.out_dir, "saved_model"), version)  # TF Serving's layout
    shutil.copy(artifact_path(exported.out_dir, "tflite-int8"), version)
    assert artifact_size(version, "saved_model") == _bytes_on_disk(artifact_path(exported.out_dir, "saved_model"))
    assert artifact_size(version, "tflite-int8") == artifact_path(exported.out_dir, "tflite-int8").stat().st_size


def test_compare_backends_over_http(demo_url):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(demo_url, verbose=False)
    photo = handle_file(str(EXAMPLES_DIR / "two_astronauts.jpg"))
    summary, table, chart, record = client.predict(photo, api_name="/compare_backends")
    assert [b["backend"] for b in record["backends"]] == list(BACKENDS) and len(record["faces"]) == 2
    assert record["reference"] == "keras" and "**keras**" in summary
    assert all(b["latency_ms"] > 0 and b["size_bytes"] > 0 for b in record["backends"])
    assert table["headers"] == list(TABLE_HEADERS) and [row[0] for row in table["data"]] == list(BACKENDS)
    assert chart["type"] == "matplotlib" and chart["plot"].startswith("data:image/png;base64,")
    assert client.predict(photo, "haar", api_name="/compare_backends")[3]["detector"] == "haar"
    with pytest.raises(AppError, match="Choose a photo first"):
        client.predict(None, api_name="/compare_backends")
