"""Shipping a pushed version: laid out as the fer-export directory it came from, with shipped.json, never replacing."""

import json
import shutil

import pytest

from export.push import push, pushed_name
from export.shipping import figures_from_evaluations, ship_pushed_version
from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from model_zoo.pretrained import resolve_artifacts, shipped_models
from pipeline.lineage import LINEAGE_FILE, artifact_hashes

SOURCE = resolve_artifacts("seed_cnn_fer2013_v1")  # a plain fer-export output: no card or lineage
FER2013_EVAL = {"labels": "fer2013", "split": "validation", "data": "DATA", "accuracy": 0.68321}
MAJORITY_EVAL = {
    "labels": "ferplus-majority",
    "split": "validation",
    "data": "DATA",
    "accuracy": 0.71,
    "model_classes": list(CLASS_NAMES),
    "ferplus_7_emotions": {"accuracy": 0.7031},
}


@pytest.fixture
def pushed(tmp_path):
    """A version pushed as fer-pipeline pushes one: the export, its card, data report and lineage record."""
    export = tmp_path / "export"
    shutil.copytree(SOURCE, export, ignore=shutil.ignore_patterns("shipped.json"))  # as fer-export wrote it
    hashes = artifact_hashes(export)
    lineage = {
        "run_id": "r1",
        "command": "fer-pipeline --preset ship --data DATA",
        "config": {"labels": "fer2013"},
        "artifacts": {pushed_name(name): h for name, h in hashes.items() if name != "manifest.json"},
    }
    (tmp_path / LINEAGE_FILE).write_text(json.dumps(lineage))
    (tmp_path / "MODEL_CARD.md").write_text("# card\n")
    (tmp_path / "data_report.md").write_text("# data\n")
    extra = {name: tmp_path / name for name in (LINEAGE_FILE, "MODEL_CARD.md", "data_report.md")}
    return push(export, tmp_path / "push", extra)


def test_a_pushed_version_ships_as_the_export_it_came_from(pushed, tmp_path):
    root = tmp_path / "shipped"
    folder = ship_pushed_version(pushed, "copy", "A copy.", [FER2013_EVAL, MAJORITY_EVAL], root)
    assert folder == root / "copy" and not list(root.glob(".shipping-*"))
    # The same files under the same names as the original export, byte for byte, and its manifest.
    original = json.loads((SOURCE / "manifest.json").read_text())
    assert json.loads((folder / "manifest.json").read_text()) == original
    assert {n: h["sha256"] for n, h in artifact_hashes(folder).items() if n in original} == {
        n: h["sha256"] for n, h in original.items()
    }
    assert (folder / "MODEL_CARD.md").read_text() == "# card\n" and (folder / "data_report.md").is_file()
    model = shipped_models(root)["copy"]
    assert (model.summary, model.labels, model.class_names) == (
        "A copy.",
        "fer2013",
        shipped_models()[SOURCE.name].class_names,
    )
    assert model.figures == {"fer2013_accuracy": 0.6832, "ferplus_majority_accuracy_7_emotions": 0.7031}
    assert model.made_by == "fer-pipeline run r1: fer-pipeline --preset ship --data DATA"
    info = json.loads((folder / "shipped.json").read_text())
    assert info["figures_measured_with"] == [
        "fer-eval --model copy --data DATA --split validation",
        "fer-eval --model copy --data DATA --split validation --labels ferplus-majority",
    ]


def test_an_existing_name_a_bad_name_and_a_changed_version_are_refused(pushed, tmp_path):
    root = tmp_path / "shipped"
    ship_pushed_version(pushed, "copy", "A copy.", [], root)
    before = (root / "copy" / "shipped.json").read_text()
    with pytest.raises(FileExistsError, match="choose another name"):
        ship_pushed_version(pushed, "copy", "Another.", [], root)
    assert (root / "copy" / "shipped.json").read_text() == before
    with pytest.raises(ValueError, match="letters, digits"):
        ship_pushed_version(pushed, "../up", "Up.", [], root)
    with pytest.raises(FileNotFoundError, match="not a pushed version"):
        ship_pushed_version(SOURCE, "export", "An export, not a push.", [], root)
    (pushed / "model_int8.tflite").write_bytes(b"changed")
    with pytest.raises(ValueError, match="model_int8.tflite is missing or differs from its lineage record"):
        ship_pushed_version(pushed, "changed", "Changed.", [], root)
    assert sorted(p.name for p in root.iterdir()) == ["copy"]


def test_figures_come_one_per_label_mode():
    with pytest.raises(ValueError, match="two evaluations give fer2013_accuracy"):
        figures_from_evaluations([FER2013_EVAL, FER2013_EVAL])
    with pytest.raises(ValueError, match="without 'labels'"):
        figures_from_evaluations([{"accuracy": 0.5}])
    eight = {**MAJORITY_EVAL, "model_classes": list(FERPLUS_CLASS_NAMES)}
    soft = {"labels": "ferplus-soft", "soft_label_cross_entropy": 1.23456}
    assert figures_from_evaluations([eight, soft]) == {
        "ferplus_majority_accuracy": 0.71,
        "ferplus_majority_accuracy_7_emotions": 0.7031,
        "soft_label_cross_entropy": 1.2346,
    }


def test_the_command_ships_once_then_refuses_in_one_line(pushed, tmp_path, capsys):
    from export.cli import ship

    evaluation = tmp_path / "eval.json"
    evaluation.write_text(json.dumps(FER2013_EVAL))
    args = [str(pushed), "--name", "copy", "--summary", "A copy.", "--eval", str(evaluation), "--root", str(tmp_path)]
    assert ship.main(args) == 0
    assert "as copy at" in capsys.readouterr().out
    assert ship.main(args) == 2
    assert capsys.readouterr().err.startswith(f"{ship.PROG}: error: a shipped model called 'copy' exists")
