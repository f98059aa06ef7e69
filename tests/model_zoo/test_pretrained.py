"""The shipped models: complete, intact, small, consistent across backends; the default is the tools' default."""

import hashlib
import json

import pytest

from export.cli.bench import main as bench_main
from model_zoo.artifacts import BACKENDS
from model_zoo.constants import label_mode_class_names, read_labels
from model_zoo.pretrained import PRETRAINED_DIR, pretrained_artifacts_dir, shipped_models
from pipeline.cli.evaluate import main as eval_main
from pipeline.config import TrainConfig, resolve_config
from serving_demo.recognizer import EmotionRecognizer
from tests.fer_fixtures import ROOT

MAX_SHIPPED_MEGABYTES = 40
SHIPPED = shipped_models()
# The preset each shipped model was trained with: its card's command must reproduce the run.
PRESET_OF = {"seed_cnn_fer2013": "ship-distilled", "seed_cnn_fer2013_v1": "ship", "seed_cnn_ferplus": "ferplus"}


def test_the_default_is_shipped():
    assert pretrained_artifacts_dir() == PRETRAINED_DIR and PRETRAINED_DIR.name in SHIPPED
    assert set(SHIPPED) == set(PRESET_OF)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_artifacts_are_complete_intact_and_small(name):
    folder = SHIPPED[name].path
    manifest = json.loads((folder / "manifest.json").read_text())
    for file in ("model.keras", "saved_model", "model_float32.tflite", "model_int8.tflite", "labels.txt"):
        assert any(key == file or key.startswith(file + "/") for key in manifest), file
    total = 0
    for file, entry in manifest.items():
        data = (folder / file).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], file
        total += len(data)
    assert total < MAX_SHIPPED_MEGABYTES * 1e6
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["parity_passed"] and metadata["source_model"]["name"] == "seed_cnn"
    report = json.loads((folder / "parity_report.json").read_text())
    assert report["passed"]
    # Reported by backend name, as the exporter now writes it.
    assert set(report["artifacts"]) == set(BACKENDS) - {"keras", "keras-eager"}
    assert read_labels(folder) == label_mode_class_names(SHIPPED[name].labels)
    assert SHIPPED[name].summary and SHIPPED[name].figures and SHIPPED[name].made_by


@pytest.mark.parametrize("name", SHIPPED)
def test_the_preset_is_the_configuration_the_shipped_model_was_trained_with(name):
    trained = json.loads((SHIPPED[name].path / "metadata.json").read_text())["training_config"]
    # As on resume: a field added to TrainConfig after the run counts as its default.
    trained = {**TrainConfig().to_dict(), **trained}
    preset = resolve_config(PRESET_OF[name], {"data": trained["data"], "verbose": trained["verbose"]}).to_dict()
    assert preset == trained


def test_resolved_configs_do_not_share_the_presets_mutable_values():
    resolve_config("ship").model_kwargs["conv_dropout"] = 0.9
    assert resolve_config("ship").model_kwargs["conv_dropout"] == 0.15


@pytest.fixture(scope="module")
def recognizer():
    return EmotionRecognizer()  # the default: the shipped model


def test_every_backend_of_the_shipped_model_sees_the_smiling_astronaut_as_happy(recognizer):
    backends = recognizer.available_backends()
    assert backends == list(BACKENDS)
    for backend in backends:
        analysis = recognizer.analyze(ROOT / "serving_demo" / "examples" / "astronaut.jpg", backend=backend)
        assert [f.emotion for f in analysis.faces] == ["Happy"], backend
        assert analysis.faces[0].confidence > 0.5, backend


def test_fer_eval_uses_the_shipped_model_by_default(fer_csv, data_dir, capsys):
    assert eval_main(["--data", str(fer_csv), "--data-dir", str(data_dir), "--split", "validation"]) == 0
    out = capsys.readouterr().out
    classes = len(read_labels(PRETRAINED_DIR))
    assert f"{PRETRAINED_DIR / 'model.keras'} (keras, {classes} classes) on validation" in out


def test_fer_bench_uses_the_shipped_model_by_default(tmp_path, capsys):
    args = ["--backends", "tflite-int8", "--threads", "1", "--iterations", "3", "--warmup", "1"]
    args += ["--batch-runs", "1", "--e2e-iterations", "0", "--json", str(tmp_path / "bench.json")]
    assert bench_main(args) == 0
    record = json.loads((tmp_path / "bench.json").read_text())
    assert record["artifacts"] == str(PRETRAINED_DIR)
    assert [r["backend"] for r in record["results"]] == ["tflite-int8"]
