"""``fer-pipeline``'s command line: its options, the checks before a run, exit statuses, a killed run resumed."""

from __future__ import annotations

import json

import pytest

from orchestration.stage_cache import read_progress
from tests.orchestration.pipeline_runs import FAST, invoke


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


def test_a_local_run_checks_its_baseline_and_run_id_first(smoke_pipeline, tmp_path):
    root = str(smoke_pipeline["root"])
    data = smoke_pipeline["common"][smoke_pipeline["common"].index("--data") + 1]
    code, _, err = invoke("--root", root, "--data", data, "--baseline", str(tmp_path))
    assert code == 2 and f"--baseline {tmp_path} holds no model.keras" in err
    code, _, err = invoke("--root", root, "--data", data, "--run-id", "first")
    assert code == 2 and "run first exists under" in err


def test_status_without_runs_is_refused(tmp_path):
    code, _, err = invoke("status", "--root", str(tmp_path))
    assert code == 2 and err == f"fer-pipeline status: error: no run under {tmp_path / 'runs'}\n"


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
