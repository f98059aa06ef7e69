import json

import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from pipeline.cli.evaluate import main
from pipeline.evaluate import model_class_names
from tests.fer_fixtures import ferplus_rows


def test_fer_eval_json_on_a_keras_model(smoke_run, fer_csv, data_dir, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = main(
        [
            "--model",
            str(smoke_run / "best.keras"),
            "--data",
            str(fer_csv),
            "--data-dir",
            str(data_dir),
            "--split",
            "test",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert {"accuracy", "n", "per_class", "confusion_matrix", "backend", "split"} <= set(result)
    assert result["n"] == 35 and result["split"] == "test" and result["backend"] == "keras"
    assert np.array(result["confusion_matrix"]).sum() == 35
    assert len(result["per_class"]) == 7
    # fer-eval agrees with the metrics the training run wrote for the same model and split.
    trained = json.loads((smoke_run / "metrics.json").read_text())["splits"]["test"]
    assert result["accuracy"] == trained["accuracy"]
    assert result["confusion_matrix"] == trained["confusion_matrix"]
    assert "confusion matrix" in capsys.readouterr().out


def test_fer_eval_missing_split_and_bad_model(smoke_run, tmp_path, data_dir, capsys):
    from tests.fer_fixtures import make_examples, write_csv

    no_test = write_csv(tmp_path / "fer2013.csv", make_examples({"train": 7, "validation": 7}))
    assert main(["--model", str(smoke_run / "best.keras"), "--data", str(no_test), "--data-dir", str(data_dir)]) == 2
    assert "has no 'test' split; it holds: train, validation" in capsys.readouterr().err
    (tmp_path / "model.onnx").write_bytes(b"x")
    assert main(["--model", str(tmp_path / "model.onnx"), "--data", str(no_test), "--data-dir", str(data_dir)]) == 2
    assert "not a model this project can run" in capsys.readouterr().err


# --- FER+ labels and 8-class models ---------------------------------------------------------------------


def _fer_eval(tmp_path, name, *args) -> dict:
    out = tmp_path / f"{name}.json"
    assert main([*args, "--split", "test", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def _kept(examples, left_out_kinds, split="test", classes_left_out=()):
    return sum(
        1
        for s, kind, _ in ferplus_rows(examples)
        if s == split and kind not in left_out_kinds and kind not in classes_left_out
    )


MAJORITY_LEFT_OUT = {"split", "removed", "no-majority", "not-a-face"}
SOFT_LEFT_OUT = {"removed", "no-majority", "not-a-face"}


def test_fer_eval_figures_of_an_8_class_model(soft_run, ferplus_csv, data_dir, examples, tmp_path, capsys):
    from model_zoo import load_model
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    common = ["--model", str(soft_run / "best.keras"), "--data", str(ferplus_csv), "--data-dir", str(data_dir)]
    soft = _fer_eval(tmp_path, "soft", *common, "--labels", "ferplus-soft")
    assert soft["model_classes"] == list(FERPLUS_CLASS_NAMES) and soft["labels"] == "ferplus-soft"
    assert soft["n"] == _kept(examples, SOFT_LEFT_OUT) and len(soft["per_class"]) == 8
    # fer-eval agrees with the figures the training run wrote for the same model and split.
    trained = json.loads((soft_run / "metrics.json").read_text())["splits"]["test"]
    for figure in ("accuracy", "confusion_matrix", "ferplus_7_emotions", "fer2013_labels", "soft_label_cross_entropy"):
        assert soft[figure] == trained[figure], figure
    printed = capsys.readouterr().out
    assert "8 classes" in printed and "calibration: mean cross-entropy against the FER+ vote distribution" in printed
    assert "same faces on FER2013's labels" in printed

    majority = _fer_eval(tmp_path, "majority", *common, "--labels", "ferplus-majority")
    assert majority["n"] == _kept(examples, MAJORITY_LEFT_OUT) and len(majority["per_class"]) == 8
    assert majority["ferplus_7_emotions"]["n"] == _kept(examples, MAJORITY_LEFT_OUT, classes_left_out={"contempt"})
    assert "soft_label_cross_entropy" not in majority

    # On FER2013's labels: every test face, the model's argmax over the 7 FER2013 emotions.
    plain = _fer_eval(tmp_path, "plain", *common)
    assert plain["n"] == 35 and list(plain["per_class"]) == list(FERPLUS_CLASS_NAMES[:7])
    images, labels = dataset_to_arrays(load_fer2013(ferplus_csv, data_dir).split("test"))
    probs = load_model(soft_run / "best.keras").predict(images, verbose=0)
    assert probs.shape == (35, 8)
    assert plain["accuracy"] == pytest.approx(np.mean(probs[:, :7].argmax(axis=1) == labels))
    assert "ferplus_7_emotions" not in plain


def test_fer_eval_of_a_7_class_model_on_ferplus_labels(smoke_run, ferplus_csv, data_dir, examples, tmp_path):
    common = ["--model", str(smoke_run / "best.keras"), "--data", str(ferplus_csv), "--data-dir", str(data_dir)]
    result = _fer_eval(tmp_path, "majority", *common, "--labels", "ferplus-majority")
    # Over the faces whose FER+ majority is one of the model's 7 emotions (contempt faces left out).
    seven = _kept(examples, MAJORITY_LEFT_OUT, classes_left_out={"contempt"})
    assert result["model_classes"] == list(CLASS_NAMES) and list(result["per_class"]) == list(CLASS_NAMES)
    assert result["n"] == seven and result["ferplus_7_emotions"] == {"accuracy": result["accuracy"], "n": seven}
    assert result["fer2013_labels"]["n"] == _kept(examples, MAJORITY_LEFT_OUT)  # contempt faces have FER2013 labels
    ferplus = ferplus_csv.parent / "fer2013new.csv"
    soft = _fer_eval(tmp_path, "soft", *common, "--labels", "ferplus-soft", "--ferplus", str(ferplus))
    assert "soft_label_cross_entropy" not in soft  # no probability for contempt: no calibration figure


def test_model_classes_come_from_labels_txt_or_the_output_count(tmp_path):
    model = tmp_path / "run" / "best.keras"
    model.parent.mkdir()
    model.write_bytes(b"x")
    assert model_class_names(model, 8) == FERPLUS_CLASS_NAMES
    assert model_class_names(model, 7) == CLASS_NAMES
    with pytest.raises(ValueError, match="outputs 5 probabilities and has no labels.txt"):
        model_class_names(model, 5)
    (model.parent / "labels.txt").write_text("a\nb\nc\nd\ne\n")
    assert model_class_names(model, 5) == ("a", "b", "c", "d", "e")
    with pytest.raises(ValueError, match="labels.txt lists 5 classes but .*best.keras outputs 8"):
        model_class_names(model, 8)
    saved_model = tmp_path / "export" / "saved_model"  # a SavedModel directory: labels.txt of its export
    saved_model.mkdir(parents=True)
    (tmp_path / "export" / "labels.txt").write_text("\n".join(FERPLUS_CLASS_NAMES) + "\n")
    assert model_class_names(saved_model, 8) == FERPLUS_CLASS_NAMES
