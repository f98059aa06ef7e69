"""A whole pipeline run on FER+ labels: an 8-class candidate, exported, measured and blessed against a 7-class model."""

from __future__ import annotations

import json

import pytest

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES, read_labels
from tests.orchestration.pipeline_runs import FAST, invoke


@pytest.mark.slow
def test_a_fer_plus_run_pushes_an_8_class_model_blessed_over_the_classes_it_shares_with_the_baseline(
    ferplus_csv, data_dir, exported, tmp_path
):
    root, push_dir = tmp_path / "root", tmp_path / "push"
    code, out, err = invoke("--preset", "smoke", "--data", str(ferplus_csv), "--data-dir", str(data_dir),
                            "--labels", "ferplus-majority", "--root", str(root), "--push-dir", str(push_dir), *FAST,
                            "--baseline", str(exported.out_dir), "--max-accuracy-drop", "1", "--max-recall-drop", "1",
                            "--run-id", "ferplus")  # fmt: skip
    assert code == 0, out[-3000:] + err[-3000:]
    version = push_dir / "1"
    assert read_labels(version) == FERPLUS_CLASS_NAMES
    metadata = json.loads((version / "metadata.json").read_text())
    assert metadata["labels"] == "ferplus-majority" and metadata["parity_passed"]
    assert json.loads((version / "parity_report.json").read_text())["n"] == 21  # FER+'s validation faces
    lineage = json.loads((version / "lineage.json").read_text())
    assert lineage["config"]["labels"] == "ferplus-majority"
    assert list(lineage["metrics"]["keras"]["per_class"]) == list(CLASS_NAMES)  # shared with the 7-class baseline
    assert lineage["metrics"]["keras"]["n"] == lineage["baseline"]["metrics"]["n"] == 14  # test faces of the seven
    bench = lineage["benchmark"][0]
    assert bench["backend"] == "tflite-int8" and 0 <= bench["accuracy"] <= 1
    card = (version / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: seed_cnn_tiny on FER2013 with ferplus-majority labels")
    assert "| Contempt |" in card and "Contempt left out" in card
