import json

import numpy as np

from pipeline.cli.evaluate import main


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
