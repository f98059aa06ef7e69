"""Pushing an export to versioned directories in TensorFlow Serving's layout."""

import shutil

import numpy as np
import pytest

from export.push import latest_pushed, push, pushed_versions
from model_zoo.artifacts import BACKENDS, artifact_path
from model_zoo.pretrained import pretrained_artifacts_dir
from serving_demo.recognizer import EmotionRecognizer
from tests.images import astronaut


def test_versions_in_tf_serving_layout_that_every_tool_can_load(tmp_path):
    shipped = pretrained_artifacts_dir()
    card = tmp_path / "card.md"
    card.write_text("# card\n")
    first = push(shipped, tmp_path / "push", {"MODEL_CARD.md": card})
    second = push(shipped, tmp_path / "push")
    assert (first.name, second.name) == ("1", "2") and pushed_versions(tmp_path / "push") == [1, 2]
    assert latest_pushed(tmp_path / "push") == second and latest_pushed(tmp_path / "nothing") is None
    assert (first / "saved_model.pb").is_file() and (first / "variables").is_dir()  # TF Serving's layout
    assert (first / "MODEL_CARD.md").read_text() == "# card\n" and (first / "labels.txt").is_file()
    assert artifact_path(first, "saved_model") == first
    assert not list((tmp_path / "push").glob(".staging-*"))
    pushed = EmotionRecognizer(second)
    assert pushed.available_backends() == list(BACKENDS)
    original = EmotionRecognizer(shipped)
    for backend in ("tflite-int8", "saved_model"):
        a = pushed.analyze(astronaut(), backend=backend).faces[0].probabilities
        b = original.analyze(astronaut(), backend=backend).faces[0].probabilities
        assert np.allclose(list(a.values()), list(b.values()), atol=1e-6), backend


def test_an_incomplete_export_is_not_pushed(tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(pretrained_artifacts_dir(), partial)
    (partial / "labels.txt").unlink()
    with pytest.raises(FileNotFoundError, match="not a complete fer-export"):
        push(partial, tmp_path / "push")
    assert pushed_versions(tmp_path / "push") == [] and not list(tmp_path.glob("push/.staging-*"))
