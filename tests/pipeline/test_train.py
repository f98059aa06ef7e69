import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli.train import build_parser, main
from pipeline.config import TrainConfig, resolve_config
from tests.fer_fixtures import ROOT, ferplus_rows


def _smoke_args(fer_csv, data_dir, run_dir) -> list[str]:
    return ["--preset", "smoke", "--data", str(fer_csv), "--data-dir", str(data_dir), "--run-dir", str(run_dir)]


def _history_epochs(run_dir: Path) -> list[int]:
    with open(run_dir / "history.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_smoke_run_writes_a_complete_run_directory(smoke_run, fer_csv, data_dir):
    import keras
    import tensorflow as tf

    from fer_runtime.predictors import KerasPredictor
    from pipeline.evaluate import evaluate_arrays
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    for name in [
        "config.json",
        "run_info.json",
        "history.csv",
        "best.keras",
        "model.keras",
        "metrics.json",
        "learning_curves.png",
        "confusion_matrix.png",
    ]:
        assert (smoke_run / name).is_file(), name
    assert any((smoke_run / "logs").rglob("events.out.tfevents.*"))
    assert not (smoke_run / "backup").exists()  # removed once the run finished
    config = json.loads((smoke_run / "config.json").read_text())
    assert config["model"] == "seed_cnn_tiny" and config["epochs"] == 2 and config["seed"] == 42
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    assert metrics["model"] == "best.keras"
    assert set(metrics["splits"]) == {"train", "validation", "test"}
    val = metrics["splits"]["validation"]
    assert val["n"] == 42 and len(val["confusion_matrix"]) == 7
    assert set(val["per_class"]["Disgust"]) == {"precision", "recall", "f1", "support"}
    assert np.trace(val["confusion_matrix"]) == round(val["accuracy"] * 42)
    with open(smoke_run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    # metrics.json holds best.keras's numbers: the best validation accuracy of the history, and
    # what evaluating best.keras on the validation faces gives.
    assert val["accuracy"] == pytest.approx(max(float(r["val_accuracy"]) for r in rows), abs=1e-6)
    faces, labels = dataset_to_arrays(load_fer2013(fer_csv, data_dir).split("validation"))
    assert val == evaluate_arrays(KerasPredictor(smoke_run / "best.keras"), faces, labels)
    assert {"accuracy", "loss", "val_accuracy", "val_loss", "images_per_sec"} <= set(rows[0])
    info = json.loads((smoke_run / "run_info.json").read_text())
    assert info["examples"] == {"train": 140, "validation": 42, "test": 35} and "finished" in info
    assert info["versions"]["tensorflow"] == tf.__version__ and info["versions"]["keras"] == keras.__version__


def test_same_command_on_a_finished_run_does_not_retrain(smoke_run, fer_csv, data_dir, capsys):
    before = (smoke_run / "model.keras").stat().st_mtime_ns
    assert main(_smoke_args(fer_csv, data_dir, smoke_run)) == 0
    assert (smoke_run / "model.keras").stat().st_mtime_ns == before
    assert "validation: accuracy" in capsys.readouterr().out


def test_another_config_in_the_same_run_dir_is_refused(smoke_run, fer_csv, data_dir, capsys):
    args = [*_smoke_args(fer_csv, data_dir, smoke_run), "--epochs", "3"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "another configuration (epochs: 2 -> 3)" in err and "new --run-dir" in err


def test_bad_arguments_give_clear_errors(tmp_path, capsys):
    assert main(["--preset", "smoke", "--run-dir", str(tmp_path / "r")]) == 2
    assert "pass --data PATH" in capsys.readouterr().err
    assert main(["--preset", "smoke", "--data", str(tmp_path / "none"), "--run-dir", str(tmp_path / "r2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "notarun").mkdir()
    (tmp_path / "notarun" / "precious.txt").write_text("keep")
    assert main(["--preset", "smoke", "--data", str(tmp_path), "--run-dir", str(tmp_path / "notarun")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert (tmp_path / "notarun" / "precious.txt").read_text() == "keep"


def test_command_line_overrides_reach_the_config():
    args = vars(
        build_parser().parse_args(
            [
                "--preset",
                "smoke",
                "--no-augment",
                "--epochs",
                "7",
                "--learning-rate",
                "0.01",
                "--lr-schedule",
                "cosine",
                "--model-kwargs",
                '{"dense_units": 8}',
                "--max-train-examples",
                "none",
                "--class-weight",
                "sqrt",
            ]
        )
    )
    preset = args.pop("preset")
    args.pop("run_dir")
    config = resolve_config(preset, args)
    assert config == TrainConfig(
        **{
            **resolve_config("smoke").to_dict(),
            "augment": False,
            "epochs": 7,
            "learning_rate": 0.01,
            "lr_schedule": "cosine",
            "model_kwargs": {"dense_units": 8},
            "max_train_examples": None,
            "class_weight": "sqrt",
        }
    )
    with pytest.raises(ValueError, match="Unknown preset"):
        resolve_config("huge")
    with pytest.raises(ValueError, match="Unknown config field"):
        resolve_config("seed", {"epoch": 3})


def _train_command(fer_csv, data_dir, run_dir, *extra):
    return [
        sys.executable,
        "-m",
        "pipeline.cli.train",
        *_smoke_args(fer_csv, data_dir, run_dir),
        "--verbose",
        "0",
        *extra,
    ]


@pytest.mark.slow  # 40 epochs, killed and resumed in a second process: 30 s on 2 cores
def test_killed_run_resumes_where_it_stopped(tmp_path, fer_csv, data_dir, smoke_run):
    run_dir = tmp_path / "killed"
    command = _train_command(fer_csv, data_dir, run_dir, "--epochs", "40", "--learning-rate", "0.003")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metadata = run_dir / "backup" / "training_metadata.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(metadata.read_text())["epoch"] >= 3:
                break
        except (FileNotFoundError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "metrics.json").exists()
    done_before_kill = json.loads(metadata.read_text())["epoch"]

    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming {run_dir} from epoch {done_before_kill + 1} of 40" in resumed.stderr
    assert _history_epochs(run_dir) == list(range(40))
    assert (run_dir / "metrics.json").exists() and not (run_dir / "backup").exists()
    assert json.loads((run_dir / "run_info.json").read_text())["sessions"] == 2


@pytest.mark.slow  # distributed training in a second process: 13 s on 2 cores
def test_mirrored_strategy_over_two_logical_cpus(tmp_path, fer_csv, data_dir, smoke_run):
    run_dir = tmp_path / "mirrored"
    command = _train_command(fer_csv, data_dir, run_dir, "--strategy", "mirrored", "--cpu-devices", "2")
    result = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["host"]["replicas"] == 2
    assert json.loads((run_dir / "metrics.json").read_text())["splits"]["validation"]["n"] == 42


@pytest.mark.slow  # two training runs: 18 s on 2 cores (test_batchnorm_recalibration_... trains with EMA too)
def test_weight_averaging_validates_and_keeps_the_averaged_weights(tmp_path, fer_csv, data_dir):
    from model_zoo import load_model
    from pipeline.train import train

    overrides = {"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0, "epochs": 4, "learning_rate": 0.003}
    trained = {}
    for name, ema in (("raw", None), ("ema", 0.999)):
        metrics = train(resolve_config("smoke", {**overrides, "ema_momentum": ema}), tmp_path / name)
        with open(tmp_path / name / "history.csv", newline="") as f:
            best_in_history = max(float(row["val_accuracy"]) for row in csv.DictReader(f))
        # The kept checkpoint is the model whose validation accuracy the history reports.
        assert metrics["splits"]["validation"]["accuracy"] == pytest.approx(best_in_history, abs=1e-6), name
        trained[name] = {
            kept: [w.numpy() for w in load_model(tmp_path / name / f"{kept}.keras").trainable_weights]
            for kept in ("best", "model")
        }

    def largest_difference(a, b):
        return max(float(np.abs(x - y).max()) for x, y in zip(a, b))

    # Same seed and data: only the averaging tells the two final models apart.
    assert largest_difference(trained["raw"]["model"], trained["ema"]["model"]) > 1e-2
    # An average over ~1000 steps barely moves in 16: every epoch's checkpoint holds (nearly)
    # the same averaged weights. A raw-weight checkpoint would differ from it like the raw run does.
    assert largest_difference(trained["ema"]["best"], trained["ema"]["model"]) < 1e-3
    for bad in ({"ema_momentum": 1.0}, {"erasing": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            resolve_config("ship", bad)


def test_batchnorm_recalibration_before_each_validation(tmp_path, fer_csv, data_dir):
    from model_zoo import load_model
    from model_zoo.batchnorm_recalibration import recalibrate_batchnorm
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays
    from pipeline.train import train

    config = resolve_config(
        "smoke",
        {"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0, "epochs": 3, "recalibrate_batchnorm": 64},
    )
    config.ema_momentum = 0.9  # statistics for the averaged weights, not the raw ones
    metrics = train(config, tmp_path / "recalibrated")
    with open(tmp_path / "recalibrated" / "history.csv", newline="") as f:
        best_in_history = max(float(row["val_accuracy"]) for row in csv.DictReader(f))
    assert metrics["splits"]["validation"]["accuracy"] == pytest.approx(best_in_history, abs=1e-6)
    # The kept models carry the statistics of their own weights on the 64 chosen training faces.
    images, _ = dataset_to_arrays(load_fer2013(fer_csv, data_dir).split("train"))
    faces = images[np.random.default_rng(config.seed).permutation(len(images))[:64]]
    for name in ("best.keras", "model.keras"):
        model = load_model(tmp_path / "recalibrated" / name)
        saved = [layer.moving_variance.numpy() for layer in model.layers if "bn" in layer.name]
        recalibrate_batchnorm(model, faces)
        again = [layer.moving_variance.numpy() for layer in model.layers if "bn" in layer.name]
        for a, b in zip(saved, again):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="number of faces >= 0"):
        resolve_config("ship", {"recalibrate_batchnorm": -1})


def test_mixed_bfloat16_training_saves_float32_models(tmp_path, fer_csv, data_dir):
    import keras

    from model_zoo import create_model, load_model
    from model_zoo.precision import dtype_policy, float32_copy
    from pipeline.train import train

    run_dir = tmp_path / "bf16"
    config = resolve_config(
        "smoke", {"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0, "precision": "mixed_bfloat16"}
    )
    metrics = train(config, run_dir)
    assert keras.config.dtype_policy().name == "float32"  # the policy does not leak out of the run
    assert json.loads((run_dir / "config.json").read_text())["precision"] == "mixed_bfloat16"
    assert metrics["splits"]["validation"]["n"] == 42
    faces = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1), dtype=np.uint8)
    for name in ("best.keras", "model.keras"):
        saved = load_model(run_dir / name)
        assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}, name
        assert saved.inputs[0].dtype == "uint8", name
        probs = saved.predict(faces, verbose=0)
        assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    # The float32 copy of a bfloat16 model computes what it computed, up to bfloat16 rounding.
    with dtype_policy("mixed_bfloat16"):
        mixed = create_model("seed_cnn_tiny")
    mixed.set_weights(saved.get_weights())  # model.keras: the last epoch's weights
    assert mixed.get_layer("block1_conv1").dtype_policy.name == "mixed_bfloat16"
    copy = float32_copy(mixed)
    assert copy.get_layer("block1_conv1").dtype_policy.name == "float32" and not copy.compiled
    assert np.allclose(copy.predict(faces, verbose=0), probs, atol=1e-6)
    assert np.abs(mixed.predict(faces, verbose=0) - probs).max() < 0.05


# --- FER+ labels: 8-class models ------------------------------------------------------------------------


def _ferplus_kept(examples, mode):
    """Per split, the number of generated faces that ``mode`` keeps (see ``tests.fer_fixtures.FERPLUS_KINDS``)."""
    left_out = {"ferplus-majority": {"split", "removed", "no-majority", "not-a-face"}}.get(
        mode, {"removed", "no-majority", "not-a-face"}
    )
    kept: dict[str, int] = {}
    for split, kind, _ in ferplus_rows(examples):
        kept[split] = kept.get(split, 0) + (kind not in left_out)
    return kept


def test_soft_label_smoke_run_trains_an_8_class_model(soft_run, ferplus_csv, data_dir, examples):
    from model_zoo import load_model
    from model_zoo.constants import FERPLUS_CLASS_NAMES, read_labels
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import examples_to_arrays

    assert read_labels(soft_run) == FERPLUS_CLASS_NAMES
    config = json.loads((soft_run / "config.json").read_text())
    assert config["labels"] == "ferplus-soft" and config["class_weight"] == "balanced" and config["ferplus"] is None
    info = json.loads((soft_run / "run_info.json").read_text())
    kept = _ferplus_kept(examples, "ferplus-soft")
    assert info["labels"] == "ferplus-soft" and info["examples"] == kept
    assert info["ferplus_source"] == str((ferplus_csv.parent / "fer2013new.csv").resolve())
    assert info["left_out_rows"]["validation"] == {"empty image name": 4, "unknown": 4, "not a face": 4}
    model = load_model(soft_run / "best.keras")
    assert model.output_shape == (None, 8)
    metrics = json.loads((soft_run / "metrics.json").read_text())
    val = metrics["splits"]["validation"]
    assert val["n"] == kept["validation"] and list(val["per_class"]) == list(FERPLUS_CLASS_NAMES)
    assert np.array(val["confusion_matrix"]).shape == (8, 8) and np.array(val["confusion_matrix"]).sum() == val["n"]
    assert val["per_class"]["Contempt"]["support"] == 4  # the generated contempt faces of validation
    assert list(val["fer2013_labels"]["per_class"]) == list(FERPLUS_CLASS_NAMES[:7])
    assert val["fer2013_labels"]["n"] == val["n"] and val["ferplus_7_emotions"]["n"] == val["n"] - 4
    # Calibration: the cross-entropy against the vote distributions, never below their own entropy.
    ex = examples_to_arrays(load_fer2013(ferplus_csv, data_dir, labels="ferplus-soft").examples["validation"])
    probs = model.predict(ex["image"], verbose=0)
    by_hand = -(ex["soft_label"] * np.log(np.clip(probs, 1e-7, 1))).sum(axis=1).mean()
    assert val["soft_label_cross_entropy"] == pytest.approx(by_hand, rel=1e-4)
    assert val["soft_label_cross_entropy"] > val["soft_label_entropy"] > 0
    assert val["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == ex["label"]))
    with open(soft_run / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # Validation saw the soft targets: its loss is the cross-entropy against them (of the last epoch's model).
    assert {"val_loss", "val_accuracy"} <= set(rows[0]) and len(rows) == 2


@pytest.mark.slow  # a second 8-class training run (test_recipe fits majority targets in seconds): 15 s on 2 cores
def test_majority_labels_with_label_smoothing_and_class_weights(tmp_path, ferplus_csv, data_dir, examples):
    from model_zoo import load_model
    from pipeline.train import train

    overrides = {
        "data": str(ferplus_csv),
        "data_dir": str(data_dir),
        "labels": "ferplus-majority",
        "label_smoothing": 0.1,
        "class_weight": "sqrt",
        "epochs": 1,
        "verbose": 0,
    }
    metrics = train(resolve_config("smoke", overrides), tmp_path / "majority")
    assert load_model(tmp_path / "majority" / "model.keras").output_shape == (None, 8)
    kept = _ferplus_kept(examples, "ferplus-majority")
    assert {name: m["n"] for name, m in metrics["splits"].items()} == kept
    assert "soft_label_cross_entropy" not in metrics["splits"]["test"]  # majority labels have no soft target
    assert (tmp_path / "majority" / "labels.txt").read_text().splitlines()[-1] == "Contempt"


def test_a_run_finished_before_label_modes_existed_is_still_finished(smoke_run, fer_csv, data_dir, tmp_path):
    import shutil

    old_run = tmp_path / "old"
    shutil.copytree(smoke_run, old_run)
    config = json.loads((old_run / "config.json").read_text())
    for added in ("labels", "ferplus"):
        del config[added]
    (old_run / "config.json").write_text(json.dumps(config))
    (old_run / "labels.txt").unlink()
    before = (old_run / "model.keras").stat().st_mtime_ns
    assert main(_smoke_args(fer_csv, data_dir, old_run)) == 0
    assert (old_run / "model.keras").stat().st_mtime_ns == before
    # Asking for FER+ labels is another configuration.
    assert main([*_smoke_args(fer_csv, data_dir, old_run), "--labels", "ferplus-majority"]) == 2


def test_label_options_reach_the_config_and_are_checked(tmp_path, capsys):
    args = vars(build_parser().parse_args(["--labels", "ferplus-soft", "--ferplus", "/data/fer2013new.csv"]))
    args.pop("preset")
    args.pop("run_dir")
    config = resolve_config("seed", args)
    assert (config.labels, config.ferplus, config.soft_targets) == ("ferplus-soft", "/data/fer2013new.csv", True)
    assert resolve_config("seed").labels == "fer2013" and not resolve_config("seed").soft_targets
    assert resolve_config("ship").soft_targets  # label smoothing: distributions too
    with pytest.raises(ValueError, match="with labels 'fer2013' it is not used. Pass --labels ferplus-majority"):
        resolve_config("seed", {"ferplus": "/data/fer2013new.csv"})
    with pytest.raises(ValueError, match="must not set num_classes: the label mode decides it"):
        resolve_config("seed", {"model_kwargs": {"num_classes": 8}})
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--labels", "ferplus"])
    assert "invalid choice: 'ferplus'" in capsys.readouterr().err
