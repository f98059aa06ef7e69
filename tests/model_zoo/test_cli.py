"""``fer-models``: the shipped models listed by name, and the names every tool takes for a model directory."""

import json
import shutil

import pytest

from model_zoo import cli, pretrained
from model_zoo.pretrained import DEFAULT_MODEL, PRETRAINED_DIR, resolve_artifacts, shipped_models


def test_the_table_lists_the_shipped_models_with_the_default_first(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert f"{DEFAULT_MODEL} *" in out and "fer2013" in out and "PublicTest" in out
    assert cli.main(["--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[0]["name"] == DEFAULT_MODEL and records[0]["default"] is True
    assert records[0]["classes"] == list(shipped_models()[DEFAULT_MODEL].class_names)
    assert all(0 < value <= 1 for value in records[0]["figures"].values()) and records[0]["figures"]


def test_one_model_by_name_and_an_unknown_name(capsys):
    assert cli.main([DEFAULT_MODEL]) == 0
    assert f"path: {PRETRAINED_DIR}" in capsys.readouterr().out
    assert cli.main(["no_such_model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fer-models: error: ") and DEFAULT_MODEL in err


def test_a_name_a_directory_or_nothing_resolves_to_an_export(tmp_path, monkeypatch):
    assert resolve_artifacts(None) == PRETRAINED_DIR == resolve_artifacts(DEFAULT_MODEL)
    assert resolve_artifacts(tmp_path) == tmp_path  # a directory is taken as given
    with pytest.raises(FileNotFoundError, match="run fer-export first, or fer-models") as error:
        resolve_artifacts("no_such_model")
    assert DEFAULT_MODEL in str(error.value)
    # A second shipped model is found by its folder alone; one without a model.keras is not a model.
    root = tmp_path / "shipped"
    shutil.copytree(PRETRAINED_DIR, root / "other", ignore=shutil.ignore_patterns("saved_model", "*.tflite"))
    (root / "other" / "shipped.json").write_text("not json")
    (root / "empty").mkdir()
    shutil.copytree(root / "other", root / ".shipping-half")  # being shipped: not a model yet
    monkeypatch.setattr(pretrained, "SHIPPED_ROOT", root)
    models = shipped_models()
    assert list(models) == ["other"] and models["other"].summary == "" and models["other"].figures == {}
    assert resolve_artifacts("other") == root / "other"


def test_fer_models_answers_help_without_tensorflow():
    import subprocess
    import sys

    code = "import sys; from model_zoo import cli; cli.build_parser(); print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_tools_take_a_shipped_model_by_name():
    from orchestration.settings import PipelineSettings
    from serving_demo.recognizer import EmotionRecognizer

    assert EmotionRecognizer(DEFAULT_MODEL, backend="tflite-int8").artifacts_dir == PRETRAINED_DIR
    assert PipelineSettings(baseline=DEFAULT_MODEL).with_absolute_paths().baseline == str(PRETRAINED_DIR)
    with pytest.raises(FileNotFoundError, match="no shipped model of that name"):
        PipelineSettings(baseline="no_such_model").with_absolute_paths()
