"""fer-tune: Keras Tuner searches over the seed CNN's space on generated data, with seed_cnn_tiny.

Real Keras Tuner, real models and data; every trial is 1 epoch on a tiny model. Trials
cost a few seconds each (mostly tf.function tracing), so tests share searches where
they can.
"""

import csv
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from model_zoo.constants import FERPLUS_CLASS_NAMES, read_labels
from pipeline import recipe
from pipeline.config import TrainConfig
from pipeline.tuning import (
    BASE_SHAPES,
    HYPERPARAMETER_NAMES,
    ProjectDirError,
    SearchConfig,
    check_project_dir,
    run_search,
)
from pipeline.tuning.cli import main
from serving_demo.local_server import free_port
from tests.fer_fixtures import ROOT
from tests.pipeline.tuning.helpers import cli_args

TINY = BASE_SHAPES["seed_cnn_tiny"]


def _config(fer_csv, data_dir, **overrides) -> SearchConfig:
    settings = {
        "data": str(fer_csv),
        "data_dir": str(data_dir),
        "model": "seed_cnn_tiny",
        "max_trials": 2,
        "epochs": 1,
        "batch_size": 32,
        "max_train_examples": 96,
        "verbose": 0,
        **overrides,
    }
    return SearchConfig(**settings)


def _read_trials(project: Path) -> list[dict]:
    with open(project / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def _assert_completed_in_space(rows: list[dict]) -> None:
    for row in rows:
        assert row["status"] == "COMPLETED", row
        assert 0.0 <= float(row["val_accuracy"]) <= 1.0
        assert int(row["dense_units"]) in TINY.dense_units
        assert 1e-4 <= float(row["learning_rate"]) <= 3e-3
        assert row["error"] == ""


@pytest.fixture(autouse=True)
def _no_distributed_env(monkeypatch):
    # These tests run local searches, whatever the environment of the test run says.
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def resumed_random_search(tmp_path_factory, fer_csv, data_dir):
    """A random search stopped by its time budget after 1 trial, then resumed to 2 trials.

    Returns (project dir, first result, second result, trial 0's trial.json after the first run).
    """
    project = tmp_path_factory.mktemp("tune") / "random"
    # The clock starts with the first trial; a budget shorter than a trial lets no second one start.
    first = run_search(_config(fer_csv, data_dir, time_budget=0.01), project)
    trial0 = (project / "trial_0" / "trial.json").read_text()
    second = run_search(_config(fer_csv, data_dir), project)
    return project, first, second, trial0


def test_a_search_with_preset_ship_trains_every_trial_with_the_ship_recipe(tmp_path, fer_csv, data_dir, monkeypatch):
    built: list[tuple[TrainConfig, int]] = []
    build = recipe.build_compiled_model

    def recording_build(config, n_train, strategy=None):
        built.append((config, n_train))
        return build(config, n_train, strategy)

    monkeypatch.setattr(recipe, "build_compiled_model", recording_build)
    project = tmp_path / "ship"
    result = run_search(_config(fer_csv, data_dir, preset="ship", max_trials=1), project)
    assert result.trials_run_here == [("0", "COMPLETED")] and built
    for config, n_train in built:
        # The preset's schedule reaches every trial; the search's own settings win over the preset's.
        assert (config.lr_schedule, config.warmup_epochs) == ("cosine", 1)
        assert (config.epochs, config.batch_size, config.precision, n_train) == (1, 32, "float32", 96)
    assert json.loads((project / "search_config.json").read_text())["preset"] == "ship"
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert best["fer_train_command"].startswith("fer-train --preset ship --data ")
    assert "preset: ship" in (project / "trials.md").read_text()


def test_a_search_saved_before_presets_existed_resumes_and_another_preset_is_refused(tmp_path, fer_csv, data_dir):
    config = _config(fer_csv, data_dir)
    project = tmp_path / "old"
    project.mkdir()
    saved = config.to_dict()
    del saved["preset"]  # as fer-tune wrote search_config.json before --preset
    (project / "search_config.json").write_text(json.dumps(saved))
    check_project_dir(project, config, "local")  # a missing setting counts as its default, seed
    assert json.loads((project / "search_config.json").read_text())["preset"] == "seed"
    with pytest.raises(ProjectDirError, match="preset: 'seed' -> 'ship'"):
        check_project_dir(project, dataclasses.replace(config, preset="ship"), "local")


def test_random_search_resumes_where_it_stopped(resumed_random_search):
    project, first, second, trial0 = resumed_random_search
    assert [r["trial"] for r in first.trials] == ["0"]
    assert first.stop_reason.startswith("time budget of 0.01 s used")
    # The resumed session ran exactly one new trial and left the finished one alone.
    assert second.trials_run_here == [("1", "COMPLETED")]
    assert (project / "trial_0" / "trial.json").read_text() == trial0
    assert second.stop_reason == "max_trials (2) reached"
    rows = _read_trials(project)
    assert [r["trial"] for r in rows] == ["0", "1"]
    _assert_completed_in_space(rows)
    assert {r["tuner"] for r in rows} == {"tuner0"}
    assert (
        rows[0]["width_multiplier"] != rows[1]["width_multiplier"]
        or rows[0]["learning_rate"] != rows[1]["learning_rate"]
    )
    best = json.loads((project / "best_hyperparameters.json").read_text())
    best_row = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert best["score"] == pytest.approx(float(best_row["val_accuracy"]), abs=1e-6)
    assert set(best["hyperparameters"]) == set(HYPERPARAMETER_NAMES)
    assert best["train_config"]["model"] == "seed_cnn_tiny"
    assert best["fer_train_command"].startswith("fer-train --preset seed --data ")
    md = (project / "trials.md").read_text()
    assert "- trials: 2 (2 completed)" in md and "max_trials (2) reached" in md
    assert any((project / "logs").rglob("events.out.tfevents.*"))  # TensorBoard HParams per trial


def test_a_resume_with_other_settings_is_refused(resumed_random_search, fer_csv, data_dir):
    project = resumed_random_search[0]
    with pytest.raises(ProjectDirError, match="tuner: 'random' -> 'bayesian'"):
        run_search(_config(fer_csv, data_dir, tuner="bayesian"), project)


def test_hyperband_search(tmp_path, fer_csv, data_dir):
    project = tmp_path / "hyperband"
    # max_epochs 1 gives one 1-epoch trial per Hyperband iteration; trials train in mixed precision.
    config = _config(fer_csv, data_dir, tuner="hyperband", hyperband_iterations=2, precision="mixed_bfloat16")
    result = run_search(config, project)
    rows = _read_trials(project)
    assert len(rows) == 2 and [t for t, _ in result.trials_run_here] == ["0", "1"]
    _assert_completed_in_space(rows)
    assert {r["tuner/epochs"] for r in rows} == {"1"}
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert best["trial_epochs"] == 1 and best["train_config"]["precision"] == "mixed_bfloat16"
    assert "--precision mixed_bfloat16" in best["fer_train_command"]


def test_bayesian_search(tmp_path, fer_csv, data_dir):
    project = tmp_path / "bayesian"
    # One random point, so that the second trial comes from the Gaussian process (scikit-learn);
    # two hyperparameters held fixed, as a search that keeps the documented architecture does.
    fixed = {"width_multiplier": 1.0, "dense_units": 16}
    result = run_search(_config(fer_csv, data_dir, tuner="bayesian", initial_points=1, fixed=fixed), project)
    rows = _read_trials(project)
    assert len(rows) == 2 and result.best is not None
    _assert_completed_in_space(rows)
    assert {(r["width_multiplier"], r["dense_units"]) for r in rows} == {("1.0", "16")}
    assert [rows[0][n] for n in HYPERPARAMETER_NAMES] != [rows[1][n] for n in HYPERPARAMETER_NAMES]
    assert result.best["train_config"]["model_kwargs"]["filters"] == list(TINY.filters)


def test_failed_trials_are_reported_and_a_search_without_success_exits_nonzero(tmp_path, fer_csv, data_dir, capsys):
    project = tmp_path / "failing"
    # Keras Tuner fails every trial whose model has more parameters than --max-model-size.
    args = cli_args(project, fer_csv, data_dir, "--max-model-size", "10", "--max-trials", "5")
    assert main([*args, "--max-consecutive-failures", "2"]) == 1
    err = capsys.readouterr().err
    assert "No trial completed" in err and "Oversized model" in err and "trials.md" in err
    rows = _read_trials(project)
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"]  # stopped after 2 in a row, not 5
    assert all(r["error"].startswith("keras_tuner.src.errors.FailedTrialError: Oversized model") for r in rows)
    md = (project / "trials.md").read_text()
    assert "## Failed trials" in md and "Traceback (most recent call last)" in md
    assert "2 trials in a row failed" in md
    assert (project / "trial_0" / "error.txt").read_text().startswith("Traceback")
    assert not (project / "best_hyperparameters.json").exists()


def test_retrain_best_makes_an_exportable_fer_train_run(resumed_random_search, fer_csv, data_dir, tmp_path, capsys):
    project = resumed_random_search[0]
    run_dir = tmp_path / "retrained"
    args = cli_args(project, fer_csv, data_dir, "--max-trials", "2", "--retrain-best", str(run_dir))
    assert main([*args, "--retrain-epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"fer-export {run_dir}" in out and "retrained validation: accuracy" in out
    assert (run_dir / "model.keras").is_file() and (run_dir / "metrics.json").is_file()
    best = json.loads((project / "best_hyperparameters.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    for key, value in best["train_config"].items():
        assert config[key] == value, key
    assert config["epochs"] == 1 and config["data"] == str(Path(fer_csv).resolve())
    assert len(_read_trials(project)) == 2  # the search was finished: no new trial


@pytest.fixture(scope="module")
def ferplus_soft_search(tmp_path_factory, ferplus_csv, data_dir):
    """``fer-tune --labels ferplus-soft`` with one trial.

    Returns (project dir, the command's arguments, the configurations and output widths the recipe built).
    """
    project = tmp_path_factory.mktemp("tune-ferplus") / "search"
    built: list[tuple[TrainConfig, int]] = []
    build = recipe.build_compiled_model

    def recording_build(config, n_train, strategy=None):
        model = build(config, n_train, strategy)
        built.append((config, model.output_shape[-1]))
        return model

    args = cli_args(project, ferplus_csv, data_dir, "--labels", "ferplus-soft", "--max-trials", "1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recipe, "build_compiled_model", recording_build)
        assert main(args) == 0
    return project, args, built


def test_a_ferplus_soft_search_trains_8_class_trials_on_the_votes(ferplus_soft_search):
    project, _, built = ferplus_soft_search
    # Every trial's model has the 8 FER+ outputs and the soft labels' loss on the vote distributions.
    assert built and all(c.labels == "ferplus-soft" and c.soft_targets and width == 8 for c, width in built)
    saved = json.loads((project / "search_config.json").read_text())
    assert (saved["labels"], saved["ferplus"]) == ("ferplus-soft", None)
    _assert_completed_in_space(_read_trials(project))
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert best["train_config"]["labels"] == "ferplus-soft" and "--labels ferplus-soft" in best["fer_train_command"]
    assert "labels: ferplus-soft" in (project / "trials.md").read_text()


@pytest.mark.slow  # a second training run and its evaluation, on top of the search
def test_retrain_best_of_a_ferplus_soft_search_is_an_8_class_fer_train_run(ferplus_soft_search, tmp_path, capsys):
    project, args, _ = ferplus_soft_search
    run_dir = tmp_path / "retrained"
    assert main([*args, "--retrain-best", str(run_dir), "--retrain-epochs", "1"]) == 0
    assert "retrained validation: accuracy" in capsys.readouterr().out
    assert json.loads((run_dir / "config.json").read_text())["labels"] == "ferplus-soft"
    assert json.loads((run_dir / "run_info.json").read_text())["labels"] == "ferplus-soft"
    assert keras.models.load_model(run_dir / "best.keras").output_shape == (None, 8)
    assert read_labels(run_dir) == FERPLUS_CLASS_NAMES
    assert len(_read_trials(project)) == 1  # the search was finished: no new trial


def test_a_resume_with_other_labels_is_refused(ferplus_soft_search, ferplus_csv, data_dir):
    project = ferplus_soft_search[0]
    for labels in ("ferplus-majority", "fer2013"):
        with pytest.raises(ProjectDirError, match=f"labels: 'ferplus-soft' -> '{labels}'"):
            run_search(_config(ferplus_csv, data_dir, labels=labels, max_trials=1), project)
    assert json.loads((project / "search_config.json").read_text())["labels"] == "ferplus-soft"


@pytest.mark.slow  # three processes: a chief and two workers
def test_distributed_search_with_a_chief_and_two_workers(tmp_path, fer_csv, data_dir):
    from pipeline.fer2013_dataset import load_fer2013

    # Workers sharing one dataset cache must not prepare it concurrently: prepare it first.
    load_fer2013(fer_csv, data_dir)
    project = tmp_path / "distributed"
    port = str(free_port())
    command = [sys.executable, "-m", "pipeline.tuning.cli", *cli_args(project, fer_csv, data_dir, "--max-trials", "2")]
    deadline = time.monotonic() + 240  # every process is killed by then
    procs: dict[str, subprocess.Popen] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "tuner0", "tuner1")}

    def start(name: str) -> None:
        env = {
            **os.environ,
            "KERASTUNER_TUNER_ID": name,
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": port,
        }
        with open(logs[name], "w") as out:
            procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    try:
        # All at once: a worker that asks before the chief serves retries (gRPC waits for the
        # server); each trial takes seconds, so both workers are asking before the first ends.
        for name in ("chief", "tuner0", "tuner1"):
            start(name)
        for proc in procs.values():
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = {name: path.read_text() for name, path in logs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name}:\n{output[name][-3000:]}"
    rows = _read_trials(project)
    _assert_completed_in_space(rows)
    assert len(rows) == 2 and {r["tuner"] for r in rows} == {"tuner0", "tuner1"}
    for worker in ("tuner0", "tuner1"):
        ran = next(r["trial"] for r in rows if r["tuner"] == worker)
        assert f"{worker} ran trials: {ran} COMPLETED" in output[worker]
        assert "Best:" not in output[worker]  # only the chief reports the best
    assert output["chief"].count("Best: trial") == 1
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert best["trial"] == max(rows, key=lambda r: float(r["val_accuracy"]))["trial"]


@pytest.mark.slow
def test_a_search_killed_mid_trial_resumes_and_reruns_that_trial(tmp_path, fer_csv, data_dir):
    from pipeline.fer2013_dataset import load_fer2013

    load_fer2013(fer_csv, data_dir)
    project = tmp_path / "killed"
    # Many epochs, so that trial 1 is surely still running when it is killed.
    args = cli_args(project, fer_csv, data_dir, "--max-trials", "2")
    log_path = tmp_path / "killed.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.tuning.cli", *args, "--epochs", "50"],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300
        while not (project / "trial_1" / "trial.json").exists():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "trial 1 did not start in time"
            time.sleep(0.2)
        proc.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    result = run_search(_config(fer_csv, data_dir, epochs=50, max_trials=2), project)
    # Trial 0 finished before the kill; trial 1 was running and runs again from its start.
    assert result.trials_run_here == [("1", "COMPLETED")]
    _assert_completed_in_space(_read_trials(project))
