"""``fer-pipeline`` end to end through ``kfp.local`` on generated FER2013 data, and its pieces.

One pipeline root serves the module: the first run trains, exports and pushes; the later runs reuse its stages.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

from orchestration.cli import NOT_BLESSED, main
from orchestration.stage_cache import cached_stage, read_progress
from tests.fer_fixtures import make_examples, write_csv

# Small and quick: the benchmark measures one backend briefly; the gate and int8 calibration use few faces.
FAST = ["--bench-backends", "tflite-int8", "--bench-iterations", "10", "--bench-faces", "32",
        "--parity-examples", "42", "--representative-examples", "32", "--verbose", "0"]  # fmt: skip
REUSABLE = ("data", "train", "export", "bench", "evaluate-candidate", "evaluate-candidate-int8")


def invoke(*args: str) -> tuple[int, str, str]:
    """``fer-pipeline ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def states(root: Path, run_id: str) -> dict[str, str]:
    """The last state of each stage of a run (started, reused, done, failed)."""
    return {e["stage"]: e["state"] for e in read_progress(root, run_id)}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, fer_csv, data_dir):
    """The smoke pipeline's common options, and its first run (thresholds open: the smoke model guesses)."""
    base = tmp_path_factory.mktemp("pipeline")
    root, push_dir = base / "root", base / "push"
    common = ["--preset", "smoke", "--data", str(fer_csv), "--data-dir", str(data_dir), "--root", str(root), *FAST]
    result = invoke(*common, "--push-dir", str(push_dir), "--max-accuracy-drop", "1", "--max-recall-drop", "1",
                    "--run-id", "first")  # fmt: skip
    return {"root": root, "push_dir": push_dir, "common": common, "first": result}


def test_smoke_pipeline_pushes_a_version_with_its_card_and_lineage(smoke):
    from fer_runtime.predictors import load_backend
    from model_zoo.artifacts import BACKENDS, available_backends
    from model_zoo.pretrained import pretrained_artifacts_dir

    code, out, err = smoke["first"]
    assert code == 0, out[-3000:] + err[-3000:]
    assert "pushed version 1" in out
    version = smoke["push_dir"] / "1"
    # TensorFlow Serving's layout: the SavedModel at the version's root, the other artifacts beside it.
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    assert available_backends(version) == list(BACKENDS)
    faces = make_examples({"test": 4})["test"][0][..., None]
    assert load_backend(version, "tflite-int8").predict(faces).shape == (4, 7)
    assert not [p.name for p in smoke["push_dir"].iterdir() if p.name.startswith(".")]  # no staging left

    card = (version / "MODEL_CARD.md").read_text()
    for section in ("## Model", "## Data", "## Training", "## Evaluation on test", "## Parity", "## Speed",
                    "## Known limits"):  # fmt: skip
        assert section in card, section
    for figure in ("learning_curves.png", "confusion_matrix.png", "bench.png"):
        assert f"]({figure})" in card and (version / figure).stat().st_size > 1000, figure

    assert "```bash\nfer-pipeline --preset smoke --root " in card  # how to run it again

    lineage = json.loads((version / "lineage.json").read_text())
    statistics = json.loads((version / "data_statistics.json").read_text())
    assert lineage["data_fingerprint"] == statistics["fingerprint"]
    assert lineage["config"]["model"] == "seed_cnn_tiny" and lineage["config"]["epochs"] == 2
    assert set(lineage["code"]) == {"package_version", "git_commit", "git_dirty"}
    assert "tensorflow" in lineage["environment"]["packages"]
    model_hash = hashlib.sha256((version / "model.keras").read_bytes()).hexdigest()
    assert lineage["artifacts"]["model.keras"]["sha256"] == model_hash == lineage["candidate_model_sha256"]
    assert "saved_model.pb" in lineage["artifacts"] and len(lineage["artifacts"]) >= 10
    for name, recorded in lineage["artifacts"].items():  # named and hashed as they lie in the version
        assert hashlib.sha256((version / name).read_bytes()).hexdigest() == recorded["sha256"], name
    assert lineage["blessing"]["blessed"] is True and lineage["blessing"]["reasons"] == []
    assert lineage["baseline"]["path"] == str(pretrained_artifacts_dir())
    assert lineage["metrics"]["keras"]["n"] == lineage["baseline"]["metrics"]["n"] == 35  # the same test faces
    run_lineage = json.loads((smoke["root"] / "runs" / "first" / "lineage.json").read_text())
    assert run_lineage["push"]["version"] == 1
    assert set(states(smoke["root"], "first").values()) == {"done"}


def test_rerun_reuses_every_stage_and_pushes_nothing_new(smoke):
    assert smoke["first"][0] == 0
    code, out, err = invoke(*smoke["common"], "--push-dir", str(smoke["push_dir"]), "--max-accuracy-drop", "1",
                            "--max-recall-drop", "1", "--run-id", "again")  # fmt: skip
    assert code == 0, out[-3000:] + err[-3000:]
    done = states(smoke["root"], "again")
    assert {stage: done[stage] for stage in REUSABLE} == dict.fromkeys(REUSABLE, "reused")
    # The baseline is now version 1: the same model.keras, so its evaluation is the candidate's, reused too.
    assert done["evaluate-baseline"] == "reused"
    assert "already version 1" in out
    assert sorted(p.name for p in smoke["push_dir"].iterdir()) == ["1"]
    code, out, _ = invoke("status", "--root", str(smoke["root"]))  # the latest run
    assert code == 0 and out.startswith("run again") and "train                     reused" in out


def test_a_candidate_worse_than_the_baseline_is_not_pushed_and_the_run_says_why(smoke, exported, tmp_path):
    push_dir = tmp_path / "push"
    # The baseline: the tiny model trained to near 100 % on faces like these; the smoke candidate guesses.
    code, out, err = invoke(*smoke["common"], "--push-dir", str(push_dir), "--baseline", str(exported.out_dir),
                            "--run-id", "worse")  # fmt: skip
    assert code == NOT_BLESSED, out[-3000:] + err[-3000:]
    assert "NOT PUSHED, not blessed:\n  - accuracy" in out and "below the baseline's" in out
    assert not push_dir.exists() or not list(push_dir.iterdir())
    blessing = json.loads((smoke["root"] / "runs" / "worse" / "blessing.json").read_text())
    assert blessing["blessed"] is False and blessing["baseline"]["accuracy"] > blessing["candidate"]["accuracy"] + 0.5
    assert blessing["baseline_model"] == {"path": str(exported.out_dir), "chosen_as": "the model given with --baseline"}
    lineage = json.loads((smoke["root"] / "runs" / "worse" / "lineage.json").read_text())
    assert lineage["push"]["pushed"] is False and lineage["push"]["reason"].startswith("not blessed")
    assert states(smoke["root"], "worse")["train"] == "reused"


def test_a_data_anomaly_stops_the_run_with_a_report(tmp_path, data_dir):
    examples = make_examples({"train": 140, "validation": 42})
    images, labels = examples["train"]
    images[:10] = 128  # 7 % blank faces: more than the schema's 1 %
    csv = write_csv(tmp_path / "fer2013.csv", {"train": (images, labels), "validation": examples["validation"]})
    root = tmp_path / "root"
    code, out, err = invoke("--preset", "smoke", "--data", str(csv), "--data-dir", str(data_dir), "--root", str(root),
                            "--push-dir", str(tmp_path / "push"), *FAST, "--run-id", "bad")  # fmt: skip
    assert code == 1
    assert "stopped at stage data-check" in err and "constant_images (train): 10 blank images" in err
    report = root / "runs" / "bad" / "data" / "data_report.md"
    assert str(report) in err and "**error** constant_images (train)" in report.read_text()
    assert "train" not in states(root, "bad")  # nothing ran after the check
    assert not (tmp_path / "push").exists()

    # Told to go on, the stage reports the same finding and lets the run continue.
    from orchestration.settings import PipelineSettings
    from orchestration.stages import data_stage

    settings = PipelineSettings(
        root=str(root), allow_anomalies=True, overrides={"data": str(csv), "data_dir": str(data_dir)}
    )
    result = data_stage(settings.to_dict(), "told-to-go-on")
    assert [a["kind"] for a in result["anomalies"] if a["severity"] == "error"] == ["constant_images"]
    assert result["reused"] is True  # the statistics of the stopped run


def test_a_killed_stage_goes_on_in_its_directory_and_a_finished_one_is_read_back(tmp_path):
    calls = []

    def killed(directory: Path) -> dict:
        (directory / "partial").write_text("half")
        raise KeyboardInterrupt

    def finishing(directory: Path) -> dict:
        calls.append((directory / "partial").read_text())
        return {"value": 1}

    with pytest.raises(KeyboardInterrupt):
        cached_stage(tmp_path, "r1", "work", {"x": 1}, killed)
    first = cached_stage(tmp_path, "r1", "work", {"x": 1}, finishing)
    again = cached_stage(tmp_path, "r2", "work", {"x": 1}, finishing)
    other = cached_stage(tmp_path, "r2", "work", {"x": 2}, lambda d: {"value": 2})
    assert calls == ["half"]  # the second start found the first one's files, the third read the result
    assert first["stage_dir"] == again["stage_dir"] != other["stage_dir"]
    assert (first["reused"], again["reused"], other["value"]) == (False, True, 2)
    events = [(e["state"], e.get("resumed")) for e in read_progress(tmp_path, "r1")]
    assert events == [("started", False), ("failed", None), ("started", True), ("done", None)]


def test_a_moved_root_is_reused_with_its_paths_moved_too(tmp_path):
    def compute(directory: Path) -> dict:
        (directory / "out.txt").write_text("result")
        return {"file": str(directory / "out.txt")}

    first = cached_stage(tmp_path / "a", "r1", "work", {"x": 1}, compute)
    (tmp_path / "a").rename(tmp_path / "b")
    moved = cached_stage(tmp_path / "b", "r2", "work", {"x": 1}, lambda d: pytest.fail("recomputed"))
    assert moved["reused"] and moved["stage_dir"] == first["stage_dir"].replace(
        str(tmp_path / "a"), str(tmp_path / "b")
    )
    assert Path(moved["file"]).read_text() == "result"


def test_the_compiled_pipeline_loads_with_kfp(tmp_path):
    import yaml
    from kfp import components

    output = tmp_path / "pipeline.yaml"
    options = ["--data", "/data/fer2013.csv.gz", "--root", "/gcs/bucket/fer", "--epochs", "5"]
    code, _, err = invoke("compile", "--output", str(output), *options)
    assert code == 2 and "--push-dir must be absolute paths on storage every step mounts" in err
    code, out, err = invoke("compile", "--output", str(output), "--image", "registry.example/fer:1", "--cpu", "4",
                            "--memory", "16G", "--gpus", "1", "--accelerator", "NVIDIA_TESLA_T4",
                            *options, "--push-dir", "/gcs/bucket/pushed")  # fmt: skip
    assert code == 0, err
    pipeline = components.load_component_from_file(str(output))
    assert pipeline.name == "fer-pipeline"
    assert set(pipeline.component_spec.inputs) == {"settings", "run_id"}
    settings = json.loads(pipeline.component_spec.inputs["settings"].default)
    assert settings["root"] == "/gcs/bucket/fer" and settings["overrides"]["epochs"] == 5
    assert settings["overrides"]["data_dir"] == "/gcs/bucket/fer/tfds"  # prepared once for every step
    spec = yaml.safe_load(output.read_text())
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 8
    assert {e["container"]["image"] for e in executors.values()} == {"registry.example/fer:1"}
    train = executors["exec-train-component"]["container"]["resources"]
    assert (train["accelerator"]["resourceCount"], train["accelerator"]["resourceType"]) == ("1", "NVIDIA_TESLA_T4")
    assert train["resourceCpuLimit"] == "4" and "accelerator" not in executors["exec-export-component"]["container"]


def test_the_recorded_command_gives_the_same_settings():
    import shlex

    from orchestration.cli import build_parser, settings_from_args
    from orchestration.settings import PipelineSettings

    settings = PipelineSettings(
        root="/r",
        preset="ship",
        tuner="bayesian",
        allow_anomalies=True,
        max_recall_drop=0.2,
        overrides={"data": "/d/fer 2013.csv", "epochs": 3, "model_kwargs": {"l2": 1e-4}, "augment": False},
    )
    args = vars(build_parser().parse_args(shlex.split(settings.command())[1:]))
    del args["run_id"]
    assert settings_from_args(args) == settings


def test_bad_settings_are_refused_before_anything_runs(tmp_path):
    root = tmp_path / "root"
    code, _, err = invoke("--root", str(root), "--data", "x.csv", "--bench-backends", "tflite-int9")
    assert code == 2 and "bench_backends must name backends among keras" in err
    code, _, err = invoke("--root", str(root))
    assert code == 2 and "No data given: pass --data PATH" in err
    code, _, err = invoke("--root", str(root), "--data", "x.csv", "--tuner", "random", "--class-weight", "balanced")
    assert code == 2 and "With --tuner, the search and the preset decide class_weight" in err
    with pytest.raises(SystemExit) as refused:
        invoke("--root", str(root), "--data", "x.csv", "--tuner", "grid")
    assert refused.value.code == 2
    code, _, err = invoke("--root", str(root), "--data", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv" in err
    assert not root.exists()


def test_a_local_run_checks_its_baseline_and_run_id_first(smoke, tmp_path):
    root = str(smoke["root"])
    data = smoke["common"][smoke["common"].index("--data") + 1]
    code, _, err = invoke("--root", root, "--data", data, "--baseline", str(tmp_path))
    assert code == 2 and f"--baseline {tmp_path} holds no model.keras" in err
    code, _, err = invoke("--root", root, "--data", data, "--run-id", "first")
    assert code == 2 and "run first exists under" in err


@pytest.mark.slow
def test_the_train_stage_can_search_first_and_train_the_best_configuration(tmp_path, fer_csv, data_dir):
    from orchestration.settings import PipelineSettings
    from orchestration.stages import train_stage

    settings = PipelineSettings(
        root=str(tmp_path),
        preset="smoke",
        overrides={"data": str(fer_csv), "data_dir": str(data_dir), "verbose": 0},
        tuner="random",
        tuner_trials=1,
        tuner_epochs=1,
    )
    result = train_stage(settings.to_dict(), "tuned", {"fingerprint": "generated"})
    stage_dir = Path(result["stage_dir"])
    best = json.loads((stage_dir / "search" / "best_hyperparameters.json").read_text())
    config = json.loads((Path(result["run_dir"]) / "config.json").read_text())
    assert config["learning_rate"] == best["train_config"]["learning_rate"] and config["epochs"] == 2
    assert Path(result["model"]).is_file() and result["metrics"]["validation"]["n"] == 42


@pytest.mark.slow
def test_a_pipeline_killed_while_training_resumes_the_training_on_the_next_run(tmp_path, fer_csv, data_dir):
    import os
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "root"
    command = [sys.executable, "-m", "orchestration.cli", "--preset", "smoke", "--epochs", "6", "--batch-size", "16",
               "--backup-every-steps", "1", "--data", str(fer_csv), "--data-dir", str(data_dir), "--root", str(root),
               "--push-dir", str(tmp_path / "push"), "--max-accuracy-drop", "1", "--max-recall-drop", "1",
               *FAST]  # fmt: skip
    process = subprocess.Popen([*command, "--run-id", "killed"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    history = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        found = list((root / "stages" / "train").glob("*/run/history.csv"))
        if found and len(found[0].read_text().splitlines()) >= 3:  # two epochs done, four to go
            history = found[0]
            break
        time.sleep(0.2)
    assert history is not None, "the training never got two epochs in"
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and the KFP task's subprocess, at once
    process.wait()
    assert not (history.parent.parent / "result.json").exists()

    done = subprocess.run([*command, "--run-id", "again"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    train = [e for e in read_progress(root, "again") if e["stage"] == "train"]
    assert [(e["state"], e.get("resumed")) for e in train] == [("started", True), ("done", None)]
    info = json.loads((history.parent / "run_info.json").read_text())
    assert info["sessions"] == 2 and len(history.read_text().splitlines()) == 7  # header + six epochs, once each
